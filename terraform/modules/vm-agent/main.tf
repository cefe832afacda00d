locals {
  config_path      = "/etc/meridian/agent.json"
  unit_path        = "/etc/systemd/system/meridian-agent.service"
  sysusers_path    = "/usr/lib/sysusers.d/meridian.conf"
  bootstrap_path   = "/usr/local/lib/meridian/bootstrap-agent.sh"
  token_path       = "/run/meridian/join-token"
  credentials_dir  = "/var/lib/meridian/credentials"
  meridian_prefix  = dirname(dirname(var.meridian_bin))
  binds_privileged = var.api_port < 1024 || (var.mesh != null && try(var.mesh.inbound_port < 1024, false))

  # The agent config (agent/config.ts AgentConfigSchema): credential paths where
  # `meridian agent join` writes them and renewal rewrites them.
  agent_config = merge(
    {
      site     = var.site
      region   = var.region
      zone     = var.zone
      platform = var.platform
      node     = var.node
      nats = {
        url          = var.nats_url
        trustDomain  = var.trust_domain
        passwordFile = "${local.credentials_dir}/nats-password"
        keyFile      = "${local.credentials_dir}/agent.key"
        certFile     = "${local.credentials_dir}/agent.crt"
        bundleFile   = "${local.credentials_dir}/bundle.pem"
      }
      api       = { host = var.api_host, port = var.api_port }
      dataDir   = "/var/lib/meridian/agent"
      heartbeat = var.heartbeat
    },
    var.mesh == null ? {} : { mesh = { host = var.mesh.host, inboundPort = var.mesh.inbound_port } },
    var.allowed_services == null ? {} : { allowedServices = var.allowed_services },
    var.definitions_dir == null ? {} : { definitionsDir = var.definitions_dir },
  )
  agent_json = "${jsonencode(local.agent_config)}\n"

  # The unit text is the contract shared with `meridian agent install` (byte for byte).
  unit = templatefile("${path.module}/templates/meridian-agent.service.tftpl", {
    exec         = var.meridian_bin
    config       = local.config_path
    capabilities = local.binds_privileged ? "CAP_NET_BIND_SERVICE" : ""
  })
  sysusers = "u meridian - \"Meridian agent\" /var/lib/meridian\n"

  bootstrap = templatefile("${path.module}/templates/bootstrap-agent.sh.tftpl", {
    node_install    = var.node_install
    artifact        = var.artifact
    artifact_quoted = "'${var.artifact}'"
    artifact_is_url = can(regex("^https?://", var.artifact))
    artifact_sha256 = var.artifact_sha256
    prefix          = local.meridian_prefix
    meridian_bin    = var.meridian_bin
    site            = var.site
    node            = var.node
    control_address = var.control_address
    config_path     = local.config_path
  })

  cloud_config = {
    package_update = true
    packages       = var.node_install == "distro" ? ["ca-certificates", "curl", "nodejs", "npm"] : ["ca-certificates", "curl"]
    write_files = [
      { path = local.config_path, owner = "root:root", permissions = "0644", content = local.agent_json },
      { path = local.unit_path, owner = "root:root", permissions = "0644", content = local.unit },
      { path = local.sysusers_path, owner = "root:root", permissions = "0644", content = local.sysusers },
      { path = local.bootstrap_path, owner = "root:root", permissions = "0700", content = local.bootstrap },
      # The token is single-use and short-lived; /run is memory-backed and the bootstrap removes it.
      { path = local.token_path, owner = "root:root", permissions = "0600", content = var.join_token },
    ]
    runcmd = [[local.bootstrap_path]]
  }
}
