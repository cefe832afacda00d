/**
 * What the policy acceptance tests through a real 3-site mesh share: `meridian` run as a user
 * runs it against one site, policy files written to disk, "every process enforces version N",
 * raw HTTP/1.1 and h2c requests to a caller app's outbound listener (byte for byte, as an
 * attacker writes them), and a local workload's identity read from its agent's data dir.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { RunningAgent } from '../../../agent/index.js';
import { readCertificates, readPrivateKey, type MtlsIdentity } from '../../../shared/identity/index.js';
import { runCli } from '../../support/cli.js';
import { eventually } from '../../support/harness.js';
import type { FederationMesh } from '../../support/mesh/index.js';
import { parseRawReply } from '../../support/raw-http.js';

/** `meridian <args> --site <site>` with the mesh's PKI dir and the site's NATS URL. */
export function meridianAt(mesh: FederationMesh, site: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli([...args, '--site', site, '--dir', mesh.fed.pki.dir, '--nats', mesh.fed.nats.site(site).url]);
}

/** Writes `files` (name → YAML) into a new dir `name` under `work`; returns the dir. */
export function writeSet(work: string, name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** The version a `meridian policy apply|rollback|revoke` printed. */
export function printedVersion(stdout: string): number {
  const match = /policy version (\d+)/.exec(stdout);
  assert.ok(match?.[1] !== undefined, `no version in ${JSON.stringify(stdout)}`);
  return Number(match[1]);
}

/** What every process of the mesh (the given agents, named `<site>-<n>`, each gateway, each control service) enforces, by name. */
export function enforced(mesh: FederationMesh, agents: ReadonlyMap<string, RunningAgent>, sites?: readonly string[]): Record<string, number | null> {
  const wanted = (site: string): boolean => sites === undefined || sites.includes(site);
  const out: Record<string, number | null> = {};
  for (const [node, agent] of agents) if (wanted(node.split('-')[0] ?? '')) out[`agent ${node}`] = agent.policy.current.version;
  for (const [site, gateway] of mesh.gateways) if (wanted(site)) out[`gateway ${site}`] = gateway.policy.current.version;
  for (const [site, control] of mesh.controls) if (wanted(site)) out[`control ${site}`] = control.policy.current.version;
  return out;
}

/** Resolves once every process of `sites` (default all) enforces `version`. */
export async function everywhere(mesh: FederationMesh, agents: ReadonlyMap<string, RunningAgent>, version: number, sites?: readonly string[]): Promise<void> {
  await eventually(
    () => {
      const now = enforced(mesh, agents, sites);
      assert.deepEqual(now, Object.fromEntries(Object.keys(now).map((k) => [k, version])));
    },
    { timeoutMs: 15_000, intervalMs: 20 },
  );
}


/** A raw HTTP/1.1 exchange's outcome: status (0 when the connection closed without an answer) and body. */
export interface RawReply {
  readonly status: number;
  readonly body: string;
}

/**
 * One raw HTTP/1.1 request, written byte for byte on a fresh plain connection to a caller app's
 * outbound listener on 127.0.0.1:`port` (`head` ends each line with CRLF, without the final empty line).
 */
export async function rawRequest(port: number, head: string): Promise<RawReply> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(`${head}Connection: close\r\n\r\n`);
  // A connection left open fails the test: cut after 10 s.
  const timer = setTimeout(() => socket.destroy(), 10_000);
  await once(socket, 'close');
  clearTimeout(timer);
  const raw = Buffer.concat(chunks).toString();
  const reply = parseRawReply(raw, true);
  return { status: reply.status, body: reply.status === 0 ? raw : reply.body };
}

/** The error code of a Meridian JSON error body, or undefined for any other body. */
export function codeOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

/** The workload identity `service` holds on `agent`'s node (its key and certificate in the agent's data dir), with the agent's trust bundle. */
export function workloadIdentity(mesh: FederationMesh, node: string, agent: RunningAgent, service: string): MtlsIdentity {
  const dir = join(mesh.dir, node, 'identities');
  return { privateKey: readPrivateKey(join(dir, `${service}.key`)), chain: readCertificates(join(dir, `${service}.crt`)), bundle: agent.identity.current.bundle };
}
