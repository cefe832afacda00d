/**
 * This node's services: definitions files and API registrations, checked against the node's
 * registration policy, health-checked, and kept in the site's catalog through the node's lease.
 */
export { Registrar, type RegistrarOptions } from './registrar.js';
export { followDefinitions } from './follow-definitions.js';
export { serviceAllowed, type RegistrationPolicy } from './policy.js';
export type { LocalRegistration, LocalRegistry, RegistrationSource } from './types.js';
