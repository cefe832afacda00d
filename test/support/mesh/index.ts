/**
 * Mesh fixtures, from small parts to a whole federation:
 * - sites.ts: one locality (region, zone, platform) per site name;
 * - entries.ts: catalog entries and gateway instances a test writes by hand;
 * - proxies.ts: an agent's inbound and outbound proxies in this process (startNode, startCaller);
 * - gateways.ts: one in-process gateway per site with static resolvers (startGateways);
 * - echo.ts: destinations and network stand-ins (TCP/TLS echo, black-hole relay);
 * - agents.ts, federation.ts: agents, gateways and control services on a real secured NATS
 *   federation (startFederationMesh), with one agent config shared with agent processes;
 * - traffic.ts: calls and bounded traffic through an agent, and a shop across three sites (startShop).
 * Identities come from the test PKI (support/pki).
 */
export { REGION, locality, regionOf } from './sites.js';
export { TestCatalog, entry, instance, type EntrySpec } from './entries.js';
export { startCaller, startNode } from './proxies.js';
export { SITES, startGateways, type GatewayMesh, type GatewayTuning, type GatewaysOptions, type Site } from './gateways.js';
export { readUntil, startBlackholeRelay, startTcpEcho, startTlsEcho, type BlackholeRelay, type EchoServer } from './echo.js';
export { quietLogger, recordingLogger, type RecordingLogger } from './logs.js';
export { agentConfig, natsAccess, startMeshAgent, writePasswordFile, type AgentSpec, type MeshAgentOptions } from './agents.js';
export { startControl, startFederationMesh, startMeshGateway, type FederationMesh, type FederationMeshOptions, type MeshAgentExtras, type MeshGatewayOptions } from './federation.js';
export { SHOP_HOSTS, SHOP_NODES, meshCaller, startShop, watchNatsConnections, type MeshCall, type MeshCaller } from './traffic.js';
