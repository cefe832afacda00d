import { MeridianError } from '../errors/index.js';
import type { SpiffeId } from '../identity/index.js';
import { compileOperation, type AuthorizationRequestAttributes } from './operations.js';
import { parseIdentityPattern } from './pattern.js';
import type { AuthorizationDocument } from './schema.js';
import { SourceTrie, type CompiledRule, type Decision } from './source-trie.js';
import type { PolicySet } from './types.js';

export type { Decision } from './source-trie.js';

/** One call to judge: the caller's verified identity, the destination service and, for HTTP, the normalised request. */
export interface AuthorizationRequest extends AuthorizationRequestAttributes {
  readonly source: SpiffeId;
  readonly destinationService: string;
}

/** A compiled policy set: `decide` is pure and allocation-free on the common path. */
export interface Authorizer {
  readonly digest: string;
  decide(request: AuthorizationRequest): Decision;
  /** The service's mTLS mode: 'strict' unless the PolicyDefaults say otherwise. */
  mtlsMode(service: string): 'strict' | 'permissive';
}

interface ServiceRules {
  readonly deny: SourceTrie;
  readonly allow: SourceTrie;
  hasAllow: boolean;
}

const ANY_SERVICE = '*';

function compileDocument(doc: AuthorizationDocument, rules: ServiceRules, trustDomain: string): void {
  const deny = doc.spec.action === 'deny';
  doc.spec.rules.forEach((rule, index) => {
    const name = `${doc.metadata.name}/rules/${index}`;
    const compiled: CompiledRule = {
      deny,
      operations: rule.to?.map(compileOperation),
      decision: Object.freeze({ allowed: !deny, rule: name, reason: `${deny ? 'denied' : 'allowed'} by Authorization ${doc.metadata.name}, rule ${index}` }),
    };
    for (const pattern of rule.from) {
      const parsed = parseIdentityPattern(pattern, trustDomain);
      // parsePolicySet refused every bad pattern; a hand-made set with one is refused here the same way
      if (typeof parsed === 'string') throw new MeridianError('MERIDIAN_ERR_POLICY_INVALID', `Authorization ${doc.metadata.name}: ${parsed}`);
      (deny ? rules.deny : rules.allow).add(parsed.segments, compiled);
    }
    if (!deny) rules.hasAllow = true;
  });
}

function decision(allowed: boolean, rule: string, reason: string): Decision {
  return Object.freeze({ allowed, rule, reason });
}

/**
 * Compiles the Authorization documents of `set`: rules indexed by destination service, then by
 * the caller's SPIFFE path segments. Deny wins over allow; once a service (or `*`) has an allow
 * rule, a caller no allow rule names is denied; otherwise the federation default decides.
 */
export function compileAuthorizer(set: PolicySet): Authorizer {
  const services = new Map<string, ServiceRules>();
  const rulesOf = (service: string): ServiceRules => {
    let rules = services.get(service);
    if (rules === undefined) services.set(service, (rules = { deny: new SourceTrie(), allow: new SourceTrie(), hasAllow: false }));
    return rules;
  };
  for (const doc of set.authorizations) compileDocument(doc, rulesOf(doc.spec.service), set.trustDomain);
  const global = rulesOf(ANY_SERVICE);
  const defaultAction = set.defaults.spec.defaultAction;
  const byDefault = decision(defaultAction === 'allow', 'default', `no rule matches; the federation default is ${defaultAction}`);
  const notAllowed = decision(false, 'default', 'the service has allow rules and none allows this caller');
  const foreign = decision(false, 'default', `the caller is not of trust domain ${set.trustDomain}`);
  const mtls = set.defaults.spec.mtls;
  return {
    digest: set.digest,
    decide(request) {
      if (request.source.trustDomain !== set.trustDomain) return foreign;
      const own = services.get(request.destinationService);
      const denied = own?.deny.find(request.source, request) ?? global.deny.find(request.source, request);
      if (denied !== undefined) return denied.decision;
      const allowed = own?.allow.find(request.source, request) ?? global.allow.find(request.source, request);
      if (allowed !== undefined) return allowed.decision;
      return own?.hasAllow === true || global.hasAllow ? notAllowed : byDefault;
    },
    mtlsMode: (service) => mtls.services?.[service] ?? mtls.mode ?? 'strict',
  };
}
