export { requestWorkloadCertificate } from './request.js';
export { WorkloadIdentities, type IssueWorkload } from './workload-identities.js';
export { REJOIN_ADVICE, loadAgentIdentity, startAgentCredentials, type AgentCredentials } from './own-identity.js';
