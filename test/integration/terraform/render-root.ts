/** Inputs the contract fixture is rendered with: `${EXEC}` and `${CONFIG}` of the unit contract. */
export const CONTRACT_EXEC = '/usr/local/bin/meridian';
export const CONTRACT_CONFIG = '/etc/meridian/agent.json';
export const JOIN_TOKEN = 'mjt1.us-vm.0123456789abcdef0123456789abcdef';

/** Paths of the fake installation the rendered units point at (systemd-analyze verify checks ExecStart). */
export interface RenderPaths {
  /** A temp root holding bin/meridian and sbin/nats-server (fake executables). */
  fakeRoot: string;
  /** The state and config dirs the site module renders into (real `meridian` commands fill them). */
  stateDir: string;
  configDir: string;
}

const common = `
  trust_domain    = "acme.internal"
  site            = "us-vm"
  region          = "us-east"
  zone            = "us-east-1a"
  control_address = "control.us-vm.internal:8443"
  join_token      = "${JOIN_TOKEN}"
  nats_url        = "nats://nats.us-vm.internal:4222"
  artifact        = "https://releases.example.com/meridian-0.1.0.tgz"`;

/**
 * A root module (outside the repository's terraform/) composing the modules as a user would, with
 * the outputs the test checks: the unit for the contract's inputs, units that run fake
 * executables under a temp root, the configs and the user data.
 */
export function renderRootModule(paths: RenderPaths): string {
  return `
module "agent_contract" {
  source = "../terraform/modules/vm-agent"
${common}
  node = "vm-1"
}

module "agent" {
  source = "../terraform/modules/vm-agent"
${common}
  node             = "vm-2"
  meridian_bin     = "${paths.fakeRoot}/bin/meridian"
  mesh             = { inbound_port = 15443 }
  allowed_services = ["payments", "orders-*"]
  definitions_dir  = "/etc/meridian/services.d"
}

module "agent_privileged" {
  source = "../terraform/modules/vm-agent"
${common}
  node         = "vm-3"
  meridian_bin = "${paths.fakeRoot}/bin/meridian"
  api_port     = 80
}

module "site" {
  source          = "../terraform/modules/site"
  trust_domain    = "acme.internal"
  site            = "us-vm"
  region          = "us-east"
  zone            = "us-east-1a"
  address         = "127.0.0.1"
  ca_role         = "site"
  artifact        = "https://releases.example.com/meridian-0.1.0.tgz"
  meridian_bin    = "${paths.fakeRoot}/bin/meridian"
  nats_server_bin = "${paths.fakeRoot}/sbin/nats-server"
  paths           = { state_dir = "${paths.stateDir}", config_dir = "${paths.configDir}" }
  nats            = { listen_host = "127.0.0.1" }
  remote_gateways = { eu-k8s = ["nats://127.0.0.1:7223"] }
  gateway         = { metrics_port = 9440 }
}

output "unit_contract" { value = module.agent_contract.unit }
output "unit" { value = module.agent.unit }
output "unit_privileged" { value = module.agent_privileged.unit }
output "agent_config" { value = module.agent.agent_config }
output "agent_config_contract" { value = module.agent_contract.agent_config }
output "user_data" {
  value     = module.agent.user_data
  sensitive = true
}
output "site_json" { value = module.site.site_json }
output "gateway_json" { value = module.site.gateway_json }
output "nats_server_conf" { value = module.site.nats_server_conf }
output "site_units" { value = module.site.units }
output "site_user_data" { value = module.site.user_data }
`;
}
