/** The federation status: what the control services aggregate, the API and dashboard that serve it, and the `meridian status` command. */
export { startFederationStatus, PRUNE_AFTER_MS, type FederationStatusOptions, type FederationStatusService } from './service.js';
export { startStatusApi, type StatusApi, type StatusApiOptions } from './api.js';
export { federationStatus, type StatusInputs } from './aggregate.js';
export { POLICY_LAG_BOUND_MS, newestPolicy, policyLagMessage, policyRows, type NewestPolicy } from './policy.js';
export { findProblems, CERTIFICATE_WARNING_MS, LINK_GRACE_MS } from './health.js';
export { openApiDocument, STATUS_SECTIONS, type StatusSection } from './openapi.js';
export type { StatusAccess } from './access.js';
export type { FederationStatus, Problem, SiteRow, LinkRow, CatalogRow, PolicyRow, CertificateRow, FailoverRow, TrafficRow } from './schema.js';
export { renderFederationStatus } from './render.js';
export { fetchFederationStatus, type StatusClientOptions } from './client.js';
