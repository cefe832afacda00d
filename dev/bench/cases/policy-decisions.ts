import { MeridianError } from '../../../shared/errors/index.js';
import { parseSpiffeId, type SpiffeId } from '../../../shared/identity/index.js';
import { compileAuthorizer, parseIdentityPattern, parsePolicySet, type AuthorizationRequest, type PolicySet } from '../../../shared/policy/index.js';
import { compileOperation, operationMatches, type CompiledOperation } from '../../../shared/policy/operations.js';
import { median, quantile, ratePerCpuSecond } from '../measure.js';
import type { BenchCase, BenchRow } from '../types.js';

const TD = 'acme.internal';
const SERVICES = 100;
/** 8 allow and 2 deny rules per service: 1 000 rules. */
const ALLOWS_PER_SERVICE = 8;
const REQUESTS = 4096;
const ROUNDS = 5;
const DECISIONS_PER_ROUND = 400_000;
const BASELINE_DECISIONS_PER_ROUND = 20_000;
const TIMED_DECISIONS = 200_000;
const SITES = ['eu', 'us', 'ap', 'lab'];

function policyYaml(): string {
  const docs: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const allows = Array.from({ length: ALLOWS_PER_SERVICE }, (_, c) =>
      `    - from: ["spiffe://${TD}/site/${SITES[c % 3] ?? 'eu'}/svc/caller-${(s + c) % SERVICES}"]\n      to: [{ methods: [GET, POST], paths: [{ prefix: /api/v${c} }] }]`,
    );
    docs.push(`kind: Authorization\nmetadata: { name: svc-${s}-allow }\nspec:\n  action: allow\n  service: svc-${s}\n  rules:\n${allows.join('\n')}\n`);
    docs.push(
      `kind: Authorization\nmetadata: { name: svc-${s}-deny }\nspec:\n  action: deny\n  service: svc-${s}\n  rules:\n` +
        `    - from: ["spiffe://${TD}/site/lab/**"]\n    - from: ["spiffe://${TD}/site/*/svc/caller-${(s + 50) % SERVICES}"]\n      to: [{ headers: [{ name: x-debug, present: true }] }]\n`,
    );
  }
  return docs.join('---\n');
}

/** A mix of allowed calls, wrong paths, wrong sites, denied sites and unknown services. */
function requests(): AuthorizationRequest[] {
  const ids = new Map<string, SpiffeId>();
  const id = (site: string, name: string): SpiffeId => {
    const uri = `spiffe://${TD}/site/${site}/svc/${name}`;
    let parsed = ids.get(uri);
    if (parsed === undefined) ids.set(uri, (parsed = parseSpiffeId(uri, TD)));
    return parsed;
  };
  return Array.from({ length: REQUESTS }, (_, i) => {
    const s = i % SERVICES;
    const c = (i >> 3) % ALLOWS_PER_SERVICE;
    const site = i % 7 === 0 ? 'lab' : (SITES[i % 5 === 0 ? (c + 1) % 3 : c % 3] ?? 'eu');
    return { source: id(site, `caller-${(s + c) % SERVICES}`), destinationService: i % 31 === 0 ? 'unknown' : `svc-${s}`, protocol: 'http', method: 'GET', path: `/api/v${i % 11 === 0 ? c + 1 : c}/items`, headers: {} };
  });
}

interface FlatRule {
  readonly service: string;
  readonly deny: boolean;
  readonly segments: readonly string[];
  readonly operations: readonly CompiledOperation[] | undefined;
  readonly name: string;
}

function segmentsMatch(pattern: readonly string[], id: SpiffeId): boolean {
  const actual = id.kind === 'site' ? ['site', id.site] : ['site', id.site, id.kind, id.name];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '**') return true;
    if (i >= actual.length || (pattern[i] !== '*' && pattern[i] !== actual[i])) return false;
  }
  return pattern.length === actual.length;
}

/** The baseline: the same rules in one list, scanned rule by rule (deny pass, then allow pass). */
function linearScan(set: PolicySet): (request: AuthorizationRequest) => string {
  const rules: FlatRule[] = set.authorizations.flatMap((doc) =>
    doc.spec.rules.flatMap((rule, index) =>
      rule.from.map((pattern) => {
        const parsed = parseIdentityPattern(pattern, TD);
        if (typeof parsed === 'string') throw new MeridianError('MERIDIAN_ERR_INTERNAL', parsed);
        return { service: doc.spec.service, deny: doc.spec.action === 'deny', segments: parsed.segments, operations: rule.to?.map(compileOperation), name: `${doc.metadata.name}/rules/${index}` };
      }),
    ),
  );
  const matches = (rule: FlatRule, request: AuthorizationRequest): boolean =>
    (rule.service === '*' || rule.service === request.destinationService) && segmentsMatch(rule.segments, request.source) && (rule.operations === undefined || rule.operations.some((op) => operationMatches(op, request, rule.deny)));
  return (request) => {
    for (const rule of rules) if (rule.deny && matches(rule, request)) return rule.name;
    for (const rule of rules) if (!rule.deny && matches(rule, request)) return rule.name;
    return 'default';
  };
}

function rate(decide: (r: AuthorizationRequest) => unknown, batch: readonly AuthorizationRequest[], count: number): number {
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rounds.push(ratePerCpuSecond(count, () => {
      for (let i = 0; i < count; i++) decide(batch[i & (REQUESTS - 1)] as AuthorizationRequest);
    }).perCpuSecond);
  }
  return median(rounds);
}

function p99Micros(decide: (r: AuthorizationRequest) => unknown, batch: readonly AuthorizationRequest[], count: number): number {
  const times: number[] = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    decide(batch[i & (REQUESTS - 1)] as AuthorizationRequest);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return quantile(times, 0.99);
}

/** Checks the two agree on every request (a fast wrong answer is no result), and returns the share allowed. */
function agree(compiled: (r: AuthorizationRequest) => { rule: string; allowed: boolean }, baseline: (r: AuthorizationRequest) => string, batch: readonly AuthorizationRequest[]): number {
  let allowed = 0;
  for (const request of batch) {
    const decision = compiled(request);
    if (decision.rule !== baseline(request)) throw new MeridianError('MERIDIAN_ERR_INTERNAL', `compiled and linear disagree on ${request.source.uri} -> ${request.destinationService}`);
    if (decision.allowed) allowed++;
  }
  return allowed / batch.length;
}

export const policyDecisions: BenchCase = {
  name: 'policy-decisions',
  description: `authorization decisions with ${SERVICES * (ALLOWS_PER_SERVICE + 2)} rules: compiled index vs a linear scan over the same rules`,
  run(): Promise<BenchRow[]> {
    const set = parsePolicySet([{ file: 'bench.yaml', text: policyYaml() }], { trustDomain: TD });
    const authorizer = compileAuthorizer(set);
    const decide = (r: AuthorizationRequest): { rule: string; allowed: boolean } => authorizer.decide(r);
    const scan = linearScan(set);
    const batch = requests();
    const allowedShare = agree(decide, scan, batch);
    const compiledRate = rate(decide, batch, DECISIONS_PER_ROUND);
    const scanRate = rate(scan, batch, BASELINE_DECISIONS_PER_ROUND);
    const compiledP99 = p99Micros(decide, batch, TIMED_DECISIONS);
    const scanP99 = p99Micros(scan, batch, TIMED_DECISIONS / 10);
    const note = `${Math.round(allowedShare * 100)}% of the ${REQUESTS} requests allowed; p99 includes ~0.05 µs of timer`;
    return Promise.resolve([
      { case: 'policy-decisions', metric: 'decisions per CPU-second', value: compiledRate, unit: '1/s', baseline: 'linear scan', baselineValue: scanRate, ratio: compiledRate / scanRate, target: '>= 1000000', note },
      { case: 'policy-decisions', metric: 'p99 decision time', value: compiledP99, unit: 'µs', baseline: 'linear scan', baselineValue: scanP99, ratio: compiledP99 / scanP99, note },
    ]);
  },
};
