export { bootstrapSiteCatalog, prepareSiteNats, type SiteNatsSetup } from './nats-bootstrap.js';
export { siteCommands } from './cli.js';
export { startControlService, type ControlService } from './control.js';
export { startLocalSites, type LocalSites } from './local-sites.js';
