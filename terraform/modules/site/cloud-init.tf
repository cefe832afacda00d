locals {
  units = {
    "meridian-nats.service" = templatefile("${path.module}/templates/service.tftpl", {
      description  = "NATS server of Meridian site ${var.site} (JetStream, supercluster gateway)"
      exec_start   = "${var.nats_server_bin} -c ${local.nats_conf_path}"
      after        = []
      state_dir    = local.state_dir
      capabilities = var.nats.client_port < 1024 || var.nats.cluster_port < 1024 || var.nats.gateway_port < 1024 ? "CAP_NET_BIND_SERVICE" : ""
      identifier   = "meridian-nats"
    })
    "meridian-site.service" = templatefile("${path.module}/templates/service.tftpl", {
      description  = "Meridian control service of site ${var.site}"
      exec_start   = "${var.meridian_bin} site serve --config ${local.site_json_path}"
      after        = ["meridian-nats.service"]
      state_dir    = local.state_dir
      capabilities = (var.control.status_api && var.control.status_port < 1024) || try(var.control.join_port < 1024, false) ? "CAP_NET_BIND_SERVICE" : ""
      identifier   = "meridian-site"
    })
    "meridian-gateway.service" = templatefile("${path.module}/templates/service.tftpl", {
      description  = "Meridian east-west gateway ${var.gateway.name} of site ${var.site}"
      exec_start   = "${var.meridian_bin} gateway run --config ${local.gw_json_path}"
      after        = ["meridian-nats.service", "meridian-site.service"]
      state_dir    = local.state_dir
      capabilities = var.gateway.listen_port < 1024 ? "CAP_NET_BIND_SERVICE" : ""
      identifier   = "meridian-gateway"
    })
  }
  sysusers = "u meridian - \"Meridian agent\" /var/lib/meridian\n"

  bootstrap = templatefile("${path.module}/templates/bootstrap-site.sh.tftpl", {
    site            = var.site
    trust_domain    = var.trust_domain
    ca_role         = var.ca_role
    node_install    = var.node_install
    artifact        = var.artifact
    artifact_is_url = can(regex("^https?://", var.artifact))
    artifact_sha256 = var.artifact_sha256
    prefix          = local.meridian_prefix
    meridian_bin    = var.meridian_bin
    nats_server_bin = var.nats_server_bin
    pki_dir         = local.pki_dir
    state_dir       = local.state_dir
    nats_dir        = local.nats_dir
    gateway_name    = var.gateway.name
    gateway_ttl     = var.gateway.certificate_ttl
  })

  base_packages = ["ca-certificates", "curl", "nats-server"]
  cloud_config = {
    package_update = true
    packages       = var.node_install == "distro" ? concat(local.base_packages, ["nodejs", "npm"]) : local.base_packages
    write_files = concat(
      [
        { path = local.site_json_path, owner = "root:root", permissions = "0644", content = local.site_json },
        { path = local.gw_json_path, owner = "root:root", permissions = "0644", content = local.gateway_json },
        { path = local.nats_conf_path, owner = "root:root", permissions = "0644", content = local.nats_server_conf },
        { path = "/usr/lib/sysusers.d/meridian.conf", owner = "root:root", permissions = "0644", content = local.sysusers },
        { path = local.bootstrap_path, owner = "root:root", permissions = "0700", content = local.bootstrap },
      ],
      [for name in sort(keys(local.units)) : { path = "/etc/systemd/system/${name}", owner = "root:root", permissions = "0644", content = local.units[name] }],
    )
    runcmd = [[local.bootstrap_path]]
  }
}
