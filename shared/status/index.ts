/** Status reports: what every agent, gateway and control service says about itself, and the board that follows them all. */
export type {
  AgentStatus,
  CatalogSiteStatus,
  CertificateStatus,
  ControlStatus,
  FailoverStatus,
  GatewayStatus,
  LinkStatusRecord,
  ReporterBase,
  ReporterKind,
  StatusRecord,
  TrafficEdge,
} from './types.js';
export { ensureStatusBucket, openStatusBucket, siteOfStatusStream, statusBucketName, statusKey, STATUS_BUCKET_PREFIX } from './bucket.js';
export { startStatusPublisher, type StatusPublisher, type StatusPublisherOptions } from './publisher.js';
export { StatusBoard, reportAgeMs, reporterUp, type BoardEntry, type StatusBoardOptions } from './board.js';
export { TrafficMeter } from './traffic.js';
export { catalogStatus } from './catalog.js';
export { certificateStatus } from './certificates.js';
