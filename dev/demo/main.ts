import { parseArgs } from 'node:util';
import { waitForShutdown } from '../../shared/process/index.js';
import { renderInstances } from '../../cli/agent.js';
import { fetchInstances } from '../../agent/index.js';
import { readTokenFile } from '../../shared/identity/index.js';
import { startDemoFederation, type DemoFederation, type RunningSite } from './federation.js';
import { checkCrossSiteCatalog, crossSiteCall, firstCrossSiteCall, type CallResult } from './smoke.js';
import { renderFederationStatus } from '../../services/status/index.js';
import { dashboardUrl, statusCommand, waitForHealthy } from './status.js';

const SMOKE_DEADLINE_MS = 60_000;
const log = (line: string): void => console.log(`[demo] ${line}`);

const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false } }, strict: true });

/** Prints the federated catalog and the federation status (once healthy, or after `timeoutMs`); returns its errors. */
async function printStatus(federation: DemoFederation, timeoutMs: number): Promise<string[]> {
  const first = federation.sites[0];
  if (first !== undefined) {
    const tokenFile = first.agent.apiTokenFile;
    const body = await fetchInstances({ url: first.agent.api.url, token: readTokenFile(tokenFile, 'agent API token') }, new URLSearchParams());
    console.log(`\nfederated catalog, as ${first.name}'s agent sees it (bin/meridian services --agent ${first.agent.api.url} --token-file ${tokenFile}):\n${renderInstances(body.instances)}\n`);
  }
  const status = await waitForHealthy(federation, callPairs(federation).length, timeoutMs);
  console.log(`federation status (${statusCommand(federation)}):\n${renderFederationStatus(status)}\n`);
  const errors = status.problems.filter((p) => p.severity === 'error').map((p) => p.message);
  if (status.sites.length < federation.sites.length) errors.push(`status lists ${status.sites.length} of ${federation.sites.length} sites`);
  return errors;
}

/** The cross-site calls the demo makes: HTTP→HTTP, HTTP→gRPC and gRPC→HTTP, each between two sites. */
function callPairs(federation: DemoFederation): [RunningSite, RunningSite][] {
  const [eu, us, onprem] = federation.sites;
  if (eu === undefined || us === undefined || onprem === undefined) throw new Error('demo topology needs three sites');
  return [[eu, onprem], [eu, us], [us, onprem]];
}

/** The catalog checks the demo prints: each site's workload seen as usable where it is called from. */
function catalogChecks(federation: DemoFederation): [RunningSite, RunningSite][] {
  const [eu, us, onprem] = federation.sites;
  if (eu === undefined || us === undefined || onprem === undefined) throw new Error('demo topology needs three sites');
  return [[onprem, eu], [eu, us], [us, onprem]];
}

/**
 * Waits until the federation can serve the demo's calls (catalogs propagated, tunnels up), then
 * makes each call once. In both modes: the interactive demo must not show a call made before
 * the mesh was ready. Each step is logged as done or FAILED with its reason; returns the failures.
 */
async function becomeReady(federation: DemoFederation): Promise<string[]> {
  const failures: string[] = [];
  const fail = (line: string): void => {
    failures.push(line);
    log(line);
  };
  for (const [from, at] of catalogChecks(federation)) {
    try {
      log(`catalog: ${at.name}'s agent sees ${from.workload.service} of ${from.name} as usable (${(await checkCrossSiteCatalog(from, at)).toFixed(0)} ms)`);
    } catch (error) {
      fail(`catalog: FAILED: ${(error as Error).message}`);
    }
  }
  for (const [from, to] of callPairs(federation)) {
    try {
      logCall(await firstCrossSiteCall(from, to));
    } catch (error) {
      fail(`call ${from.workload.service}@${from.name} -> ${to.workload.service}@${to.name}: FAILED: ${(error as Error).message}`);
    }
  }
  return failures;
}

async function smoke(federation: DemoFederation): Promise<number> {
  const failures = await becomeReady(federation);
  const found = [...failures, ...(await printStatus(federation, 20_000))];
  for (const problem of found) log(`UNHEALTHY ${problem}`);
  log(found.length === 0 ? 'smoke: federation healthy' : 'smoke: federation unhealthy');
  return found.length === 0 ? 0 : 1;
}

function logCall(result: CallResult): void {
  log(`call ${result.description}: served by ${result.destination.service}@${result.destination.site}, caller verified as ${result.destination.caller ?? 'nobody'} (${result.ms.toFixed(1)} ms)`);
}

/** Cross-site traffic once a second (bounded by the demo's lifetime), with a summary every 10 s. */
function driveTraffic(federation: DemoFederation): () => void {
  const counts = { ok: 0, failed: 0 };
  const tick = setInterval(() => {
    for (const [from, to] of callPairs(federation)) {
      crossSiteCall(from, to).then(() => counts.ok++, () => counts.failed++);
    }
  }, 1000);
  const report = setInterval(() => log(`traffic: ${counts.ok} cross-site calls served, ${counts.failed} failed`), 10_000);
  return () => {
    clearInterval(tick);
    clearInterval(report);
  };
}

async function untilInterrupted(federation: DemoFederation): Promise<number> {
  await becomeReady(federation);
  await printStatus(federation, 10_000);
  const stopTraffic = driveTraffic(federation);
  // Tests and scripts wait for this exact line.
  console.log(`dashboard: ${dashboardUrl(federation)}`);
  log(`status: ${statusCommand(federation)}`);
  log(`access logs (JSON lines, one per request at each end): ${federation.logDir}/access-<site>.jsonl`);
  log('running with cross-site traffic; press Ctrl-C to stop');
  await waitForShutdown();
  // A second Ctrl-C does not wait for the orderly stop (the servers are still killed on exit).
  process.once('SIGINT', () => process.exit(130));
  log('stopping: traffic, then each site (agent, gateway, control service), then NATS');
  stopTraffic();
  return 0;
}

async function main(): Promise<number> {
  const started = Date.now();
  const deadline = values.smoke ? setTimeout(() => {
    console.error(`[demo] smoke: not done within ${SMOKE_DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, SMOKE_DEADLINE_MS) : undefined;
  const federation = await startDemoFederation(log);
  log(`3 sites up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${federation.sites.map((s) => `${s.name} (${s.platform}, NATS ${s.natsUrl})`).join(', ')}`);
  try {
    return values.smoke ? await smoke(federation) : await untilInterrupted(federation);
  } finally {
    log('stopping every process the demo started');
    await federation.stop();
    clearTimeout(deadline);
  }
}

// Exit explicitly once stopped: a socket some client left open must not keep the demo alive
// (stdout and stderr are synchronous on Linux pipes and files, so nothing printed is lost).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('[demo] failed:', error);
    process.exit(1);
  },
);
