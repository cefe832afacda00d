export { prepareSiteNats, type SiteNatsSetup } from './nats-bootstrap.js';
