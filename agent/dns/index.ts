export { startDnsServer, type DnsServer, type DnsServerOptions, type DnsServerStats } from './server.js';
export { answerQuestion, MAX_INSTANCES_PER_ANSWER, type DnsZoneSource, type ZoneAnswer, type ZoneQuestion } from './zone.js';
export { EDNS_UDP_BYTES, MAX_QUERY_BYTES, PLAIN_UDP_BYTES } from './wire.js';
export { startAgentDns, type AgentDnsDeps } from './start.js';
