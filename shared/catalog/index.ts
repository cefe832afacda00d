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
export { DEFAULT_MAX_STALENESS, HealthCheckSchema, ServiceDefinitionSchema, type HealthCheck, type ServiceDefinition } from './definition.js';
export { bucketName, instanceKey, leaseKey, parseKey, type NodeLease } from './layout.js';
export { ensureSiteBucket, openSiteBucket } from './bucket.js';
export { SiteCatalogWriter } from './writer.js';
export { parseServiceDefinition, toInstance, decodeInstance, instanceIdOf } from './instance.js';
export { FederatedView, type FederatedViewOptions } from './view.js';
export { SiteState } from './site-state.js';
export { startLeaseReaper } from './reaper.js';
export { loadSnapshot, saveSnapshot, startSnapshotWriter } from './snapshot.js';
export { controlNatsUser, deriveSiteNatsPassword, signerSubject, siteAuthorizationConfig, siteConnectOptions, siteNatsUser } from './nats-access.js';
