export { startAgentApi, type AgentApi, type AgentApiOptions } from './server.js';
