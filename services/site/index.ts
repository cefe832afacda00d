export { bootstrapSiteCatalog, prepareSiteNats, type SiteNatsSetup } from './nats-bootstrap.js';
export { startControlService, type ControlService } from './control.js';
export { renderTls, renderCluster, renderGateway, type NatsTlsOptions, type NatsClusterOptions, type NatsGatewayOptions, type NatsGatewayRemote } from './nats-conf.js';
export { DEFAULT_STATUS_TOKEN_FILE, SiteConfigSchema, loadSiteConfig, parseSiteConfig, type SiteConfig } from './config.js';
export { connectAsControl, currentControlIdentity, type ControlConnectOptions } from './control-nats.js';
