export { requestCertificate } from './request.js';
export { startRoleRenewal, type RenewingRole, type RoleRenewal, type RoleRenewalOptions } from './role-renewal.js';
export { startTrustWatch, type TrustWatch, type TrustWatchOptions } from './trust-watch.js';
export { startRoleCredentials, type RoleCredentials, type RoleCredentialsOptions } from './credentials.js';
