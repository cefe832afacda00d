output "control_user_data" {
  description = "cloud-init user data of each site's control host (no secrets)."
  value       = { for name, host in terraform_data.control_host : name => host.output.user_data }
}

output "agent_user_data" {
  description = "cloud-init user data of each site's agent VM (carries its join token)."
  value       = { for name, agent in module.agent : name => agent.user_data }
  sensitive   = true
}

output "site_json" {
  description = "Each site's site.json."
  value       = { for name, site in module.site : name => site.site_json }
}

output "gateway_json" {
  description = "Each site's gateway.json."
  value       = { for name, site in module.site : name => site.gateway_json }
}

output "nats_server_conf" {
  description = "Each site's nats-server.conf."
  value       = { for name, site in module.site : name => site.nats_server_conf }
}

output "agent_config" {
  description = "Each agent VM's /etc/meridian/agent.json."
  value       = { for name, agent in module.agent : name => agent.agent_config }
}

output "agent_unit" {
  description = "Each agent VM's meridian-agent.service."
  value       = { for name, agent in module.agent : name => agent.unit }
}

output "token_commands" {
  description = "Run on each control host once it is up; pass the printed tokens as join_tokens."
  value       = { for name, site in module.site : name => replace(site.token_command, "<node>", var.sites[name].agent_node) }
}
