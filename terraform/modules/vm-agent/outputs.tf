output "user_data" {
  description = "cloud-init user data (#cloud-config) for the VM: installs Node.js and the artifact, writes agent.json, the unit and the sysusers file, joins with the token and starts meridian-agent. Sensitive: it carries the join token."
  value       = "#cloud-config\n${yamlencode(local.cloud_config)}"
  sensitive   = true
}

output "unit" {
  description = "The systemd unit text written to /etc/systemd/system/meridian-agent.service (the same bytes `meridian agent install` writes)."
  value       = local.unit
}

output "unit_path" {
  description = "Where the unit is written on the VM."
  value       = local.unit_path
}

output "sysusers" {
  description = "The sysusers.d line that creates the meridian service user."
  value       = local.sysusers
}

output "sysusers_path" {
  description = "Where the sysusers file is written on the VM."
  value       = local.sysusers_path
}

output "agent_config" {
  description = "The agent config JSON written to /etc/meridian/agent.json (agent/config.ts AgentConfigSchema)."
  value       = local.agent_json
}

output "agent_config_path" {
  description = "Where the agent config is written on the VM."
  value       = local.config_path
}

output "bootstrap_script" {
  description = "The bootstrap script cloud-init runs (no secret in it: it reads the token from /run/meridian/join-token and removes it)."
  value       = local.bootstrap
}

output "identity" {
  description = "The SPIFFE ID the agent holds once joined."
  value       = "spiffe://${var.trust_domain}/site/${var.site}/agent/${var.node}"
}
