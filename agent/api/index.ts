export { startAgentApi, BODY_LIMIT, type AgentApi, type AgentApiOptions } from './server.js';
export { AUTH_CHALLENGE, type ApiAccess } from './auth.js';
export { agentGet, fetchInstances, type AgentClientOptions } from './client.js';
export {
  AgentInfoSchema,
  CatalogQuerySchema,
  ErrorSchema,
  InstanceRowSchema,
  InstancesQuerySchema,
  InstancesSchema,
  LocalSchema,
  RegisteredSchema,
  ServicesSchema,
  SitesSchema,
  type ErrorBody,
  type InstanceRow,
  type Instances,
} from './schemas.js';
