export { AGENT_NODE_FLAGS, AgentConfigSchema, agentTimings, loadAgentConfig, type AgentConfig } from './config.js';
export { startAgent, type RunningAgent } from './runtime.js';
export { Registrar, type RegistrarOptions } from './registration/registrar.js';
export { startAgentApi, type AgentApi } from './api/index.js';
