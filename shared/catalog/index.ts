export type {
  CatalogEntry,
  CatalogQuery,
  CatalogReader,
  HealthState,
  NodeContext,
  PartitionPolicy,
  Platform,
  Protocol,
  ServiceInstance,
  SiteView,
} from './types.js';
export { DEFAULT_MAX_STALENESS, HealthCheckSchema, MAX_LABELS, MAX_PORTS, MAX_UPSTREAMS, ServiceDefinitionSchema, type HealthCheck, type ServiceDefinition } from './definition.js';
export { bucketName, joinBucketName, JOIN_BUCKET_PREFIX, kvStreamName, statusBucketName, STATUS_BUCKET_PREFIX, instanceKvKey, leaseKey, parseKey, type NodeLease } from './layout.js';
export { ensureKvBucket, ensureSiteBucket, openSiteBucket, type SiteBucketSpec } from './bucket.js';
export { assertJetStream, explainBucketFailure, explainKvWriteFailure, isJetStreamNotEnabled, isStreamNotFound, jetStreamDisabledError } from './jetstream-checks.js';
export { SiteWatch, type SiteWatchHandlers } from './site-watch.js';
export { SiteCatalogWriter } from './writer.js';
export { parseServiceDefinition, toInstance, decodeInstance, instanceIdOf, instanceKey, ServiceInstanceSchema } from './instance.js';
export { FederatedView, type FederatedViewOptions } from './view.js';
export { SiteState } from './site-state.js';
export { startLeaseReaper } from './reaper.js';
export { loadSnapshot, loadSnapshotOrSetAside, saveSnapshot, startSnapshotWriter } from './snapshot.js';
export { controlNatsUser, deriveSiteNatsPassword, signerSubject, siteAuthorizationConfig, siteConnectOptions, siteNatsUser } from './nats-access.js';
export { LeaseRegistrar, type LeaseRegistrarOptions } from './lease-registrar.js';
export { usableGateway } from './gateways.js';
