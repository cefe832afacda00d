output "site_json" {
  description = "The control service's config (services/site/config.ts SiteConfigSchema), written to <config_dir>/site.json and run with `meridian site serve --config`."
  value       = local.site_json
}

output "gateway_json" {
  description = "The gateway's config (gateway/config.ts GatewayConfigSchema), written to <config_dir>/gateway.json and run with `meridian gateway run --config`."
  value       = local.gateway_json
}

output "nats_server_conf" {
  description = "The site's nats-server.conf: JetStream, cluster, supercluster gateway and `include nats-site.conf` (written on the host by `meridian site nats-config`)."
  value       = local.nats_server_conf
}

output "units" {
  description = "The systemd units written on the control host, by file name."
  value       = local.units
}

output "bootstrap_script" {
  description = "The bootstrap script cloud-init runs on the control host (CA, nats-config, gateway identity, service start)."
  value       = local.bootstrap
}

output "user_data" {
  description = "cloud-init user data (#cloud-config) for the control host. It holds no key or token: the CA work happens on the host."
  value       = "#cloud-config\n${yamlencode(local.cloud_config)}"
}

output "paths" {
  description = "Where the files live on the control host."
  value = {
    site_json        = local.site_json_path
    gateway_json     = local.gw_json_path
    nats_server_conf = local.nats_conf_path
    pki_dir          = local.pki_dir
    bootstrap        = local.bootstrap_path
  }
}

output "nats_url" {
  description = "The URL the site's agents connect to (vm-agent nats_url)."
  value       = "nats://${var.address}:${var.nats.client_port}"
}

output "nats_gateway_urls" {
  description = "This site's NATS gateway URLs, for the other sites' remote_gateways."
  value       = ["nats://${var.address}:${var.nats.gateway_port}"]
}

output "control_address" {
  description = "host:port of the control service's join endpoint (vm-agent control_address); null when control.join_port is not set."
  value       = var.control.join_port == null ? null : "${var.address}:${var.control.join_port}"
}

output "token_command" {
  description = "Run on the control host to create a join token for a node (prints the token only)."
  value       = "runuser -u meridian -- ${var.meridian_bin} token create --site ${var.site} --config ${local.site_json_path} --node <node>"
}
