import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RunningAgent } from '../../../agent/index.js';
import { startExampleHttpService } from '../../../dev/examples/index.js';
import { eventually, fileScope } from '../harness.js';
import { freePort } from '../servers/index.js';
import type { FederationMesh } from './federation.js';

/** One call's outcome: status 0 with the error as body when the call failed before a response. */
export interface MeshCall {
  readonly host: string;
  readonly status: number;
  readonly body: string;
}

/** A caller app's view of its agent's HTTP listener on 127.0.0.1:`port`: calls by Host, over keep-alive connections. */
export interface MeshCaller {
  call(host: string): Promise<MeshCall>;
  /**
   * Bounded traffic: one caller per host, a call every ~20 ms, until stopped, `maxCalls` made in all
   * or `maxMs` passed, whichever comes first.
   */
  traffic(hosts: readonly string[], bounds: { maxCalls: number; maxMs: number }): { readonly results: MeshCall[]; stop(): Promise<void>; done: Promise<void> };
  close(): void;
}

/** Calls through an agent's HTTP listener; a call never rejects, so a loop counts every failure. */
export function meshCaller(port: () => number): MeshCaller {
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
  const call = (host: string): Promise<MeshCall> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: port(), path: '/', agent: keepAlive, headers: { host }, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ host, status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve({ host, status: 0, body: error.message }));
      req.end();
    });
  return {
    call,
    traffic(hosts, bounds) {
      const results: MeshCall[] = [];
      let stopped = false;
      const until = Date.now() + bounds.maxMs;
      const done = Promise.all(
        hosts.map(async (host) => {
          while (!stopped && Date.now() < until && results.length < bounds.maxCalls) {
            results.push(await call(host));
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }),
      ).then(() => undefined);
      return {
        results,
        done,
        async stop() {
          stopped = true;
          await done;
        },
      };
    },
    close: () => keepAlive.destroy(),
  };
}

/** The hosts a {@link startShop} caller calls: two services in other sites, one in its own. */
export const SHOP_HOSTS: readonly string[] = ['orders.mesh', 'stock.mesh', 'cart.mesh'];
/** The agents of {@link startShop}: [site, node]. */
export const SHOP_NODES = [['east', 'east-1'], ['east', 'east-2'], ['west', 'west-1'], ['north', 'north-1']] as const;

/**
 * A shop across three sites of `mesh` (east, west, north): agents east-1, east-2, west-1 and
 * north-1; orders at west-1 and stock at north-1 (exported), cart at east-2; the caller `shop`
 * at east-1, whose outbound HTTP listener the returned caller calls. Resolves once every host answers.
 */
export async function startShop(mesh: FederationMesh): Promise<{ agents: Map<string, RunningAgent>; caller: MeshCaller }> {
  const agents = new Map<string, RunningAgent>();
  for (const [site, node] of SHOP_NODES) agents.set(node, await mesh.agent(site, node));
  const at = (node: string): RunningAgent => agents.get(node) ?? assert.fail(node);
  const app = async (service: string, site: string): Promise<number> => {
    const started = await startExampleHttpService({ service, site });
    fileScope.after(() => started.close());
    return started.port;
  };
  await at('west-1').registrar.register({ service: 'orders', ports: { http: await app('orders', 'west') }, export: true }, { kind: 'api' });
  await at('north-1').registrar.register({ service: 'stock', ports: { http: await app('stock', 'north') }, export: true }, { kind: 'api' });
  await at('east-2').registrar.register({ service: 'cart', ports: { http: await app('cart', 'east') } }, { kind: 'api' });
  const port = await freePort();
  await at('east-1').registrar.register({ service: 'shop', ports: { http: 1 }, outbound: { http: port } }, { kind: 'api' });
  const caller = meshCaller(() => port);
  fileScope.after(() => Promise.resolve(caller.close()));
  for (const host of SHOP_HOSTS) await eventually(async () => assert.equal((await caller.call(host)).status, 200), { timeoutMs: 30_000 });
  return { agents, caller };
}

/**
 * The NATS connection of every agent in `agents`, and of each site's gateway and control service,
 * with every status event but pings from now on (`<role>: <event>`): a test under churn asserts
 * that none was dropped.
 */
export function watchNatsConnections(mesh: FederationMesh, agents: ReadonlyMap<string, RunningAgent>): { connections: Map<string, NatsConnection>; events: string[] } {
  const connections = new Map<string, NatsConnection>();
  for (const [node, agent] of agents) connections.set(`agent ${node}`, agent.nats() ?? assert.fail(`${node} has no NATS connection`));
  for (const site of mesh.controls.keys()) {
    connections.set(`gateway ${site}`, mesh.gateways.get(site)?.nc ?? assert.fail(site));
    connections.set(`control ${site}`, mesh.controls.get(site)?.nc ?? assert.fail(site));
  }
  const events: string[] = [];
  for (const [role, nc] of connections) {
    void (async () => {
      for await (const status of nc.status()) if (status.type !== 'ping' && status.type !== 'staleConnection') events.push(`${role}: ${status.type}`);
    })();
  }
  return { connections, events };
}
