export { INSTALLED_AGENT, INSTALLED_CREDENTIALS, SYSUSERS_LINE, installedConfig, type InstalledConfig } from './layout.js';
export { renderAgentUnit, type AgentUnitOptions } from './unit.js';
export { installAgent, uninstallAgent, type InstallOptions, type UninstallOptions } from './install.js';
