export { requestWorkloadCertificate } from './request.js';
export { WorkloadIdentities, type IssueWorkload } from './workload-identities.js';
