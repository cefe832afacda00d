/** Status reports: what every agent, gateway and control service says about itself, and the board that follows them all. */
export type {
  AgentStatus,
  CatalogSiteStatus,
  CertificateStatus,
  ControlStatus,
  FailoverStatus,
  GatewayStatus,
  LinkStatusRecord,
  PolicyLatest,
  PolicyRejection,
  ReporterBase,
  TrustStatus,
  ReporterKind,
  StatusRecord,
  TrafficEdge,
} from './types.js';
export { ensureStatusBucket, openStatusBucket, siteOfStatusStream, statusBucketName, statusKey, STATUS_BUCKET_PREFIX } from './bucket.js';
export { startStatusPublisher, type StatusPublisher, type StatusPublisherOptions } from './publisher.js';
export { StatusBoard, reportAgeMs, reporterUp, type BoardEntry, type StatusBoardOptions } from './board.js';
export { TrafficMeter, MAX_TRACKED_TRAFFIC_PAIRS, OTHER_PAIR } from './traffic.js';
export { busiestTraffic, fitReport, DEFAULT_MAX_PAYLOAD, MAX_REPORT_TRAFFIC_PAIRS, REPORT_HEADROOM_BYTES, type FittedReport } from './bound.js';
export { catalogStatus } from './catalog.js';
export { certificateStatus, trustField, type TrustWatchState } from './certificates.js';
export { NO_POLICY_REPORT, permissiveServices, policyFields } from './policy.js';
