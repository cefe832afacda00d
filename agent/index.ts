export {
  AGENT_NODE_FLAGS,
  AgentConfigSchema,
  DEFAULT_AGENT_API_TOKEN_FILE,
  DEFAULT_AGENT_API_URL,
  agentTimings,
  apiTokenFile,
  loadAgentConfig,
  type AgentConfig,
} from './config.js';
export { startAgent, type RunningAgent } from './runtime.js';
export { Registrar, type RegistrarOptions } from './registration/index.js';
export { startAgentApi, fetchInstances, type AgentApi, type InstanceRow } from './api/index.js';
