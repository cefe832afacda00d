import { credentials } from '@grpc/grpc-js';
import { EchoClient, type EchoReply } from '../examples/index.js';
import type { RunningSite } from './federation.js';

/** Waits until `at`'s agent sees `from`'s workload as usable; returns how long that took. */
export async function checkCrossSiteCatalog(from: RunningSite, at: RunningSite, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const usable = (): boolean => at.agent.view.query({ service: from.workload.service }).some((e) => e.usable && e.instance.meshPort !== undefined);
  while (!usable()) {
    if (Date.now() > deadline) throw new Error(`${at.name} never saw ${from.workload.service} of ${from.name} as usable`);
    await at.agent.view.waitForChange(at.agent.view.revision, 250);
  }
  return performance.now() - started;
}

interface Hop {
  service: string;
  site: string;
  caller: string | null;
}

/** What a cross-site call returned: the destination, and the caller identity it verified. */
export interface CallResult {
  readonly description: string;
  readonly destination: Hop;
  readonly ms: number;
}

/** Asks `site`'s HTTP workload to call `target` through the mesh (`/call/<svc>` for HTTP, `/grpc/<svc>` for gRPC). */
async function viaHttpWorkload(site: RunningSite, target: RunningSite): Promise<CallResult> {
  const started = performance.now();
  const path = target.workload.kind === 'grpc' ? `/grpc/${target.workload.service}` : `/call/${target.workload.service}`;
  const response = await fetch(`http://127.0.0.1:${site.workload.port}${path}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { upstream?: Partial<Hop>; error?: string };
  const upstream = body.upstream;
  if (!response.ok || typeof upstream?.service !== 'string' || typeof upstream.site !== 'string') {
    throw new Error(`${site.workload.service} answered ${response.status}: ${body.error ?? 'no upstream in its answer'}`);
  }
  return { description: `${site.workload.service}@${site.name} -> ${target.workload.service}@${target.name} (${target.workload.kind})`, destination: { service: upstream.service, site: upstream.site, caller: upstream.caller ?? null }, ms: performance.now() - started };
}

/** Asks `site`'s gRPC workload (Fetch) to GET `target`'s HTTP service through the mesh. */
async function viaGrpcWorkload(site: RunningSite, target: RunningSite): Promise<CallResult> {
  const started = performance.now();
  const client = new EchoClient(`127.0.0.1:${site.workload.port}`, credentials.createInsecure());
  try {
    const reply = await new Promise<EchoReply>((resolve, reject) =>
      client.makeUnaryRequest('/meridian.example.Echo/Fetch', (v: unknown) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()) as EchoReply, { message: target.workload.service }, { deadline: Date.now() + 10_000 }, (error, value) =>
        error || value === undefined ? reject(error ?? new Error('no reply')) : resolve(value),
      ),
    );
    return { description: `${site.workload.service}@${site.name} (grpc) -> ${target.workload.service}@${target.name} (http)`, destination: JSON.parse(reply.message) as Hop, ms: performance.now() - started };
  } finally {
    client.close();
  }
}

/** One call from `site`'s workload to `target`'s, whatever protocols the two speak. */
export function crossSiteCall(site: RunningSite, target: RunningSite): Promise<CallResult> {
  return site.workload.kind === 'grpc' ? viaGrpcWorkload(site, target) : viaHttpWorkload(site, target);
}

/** Retries a call while the gateways find each other (a fresh federation), up to `timeoutMs`. */
export async function firstCrossSiteCall(site: RunningSite, target: RunningSite, timeoutMs = 20_000): Promise<CallResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await crossSiteCall(site, target);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
