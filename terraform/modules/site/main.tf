locals {
  config_dir      = var.paths.config_dir
  state_dir       = var.paths.state_dir
  pki_dir         = "${var.paths.state_dir}/pki"
  nats_dir        = "${var.paths.config_dir}/nats"
  site_json_path  = "${var.paths.config_dir}/site.json"
  gw_json_path    = "${var.paths.config_dir}/gateway.json"
  nats_conf_path  = "${var.paths.config_dir}/nats/nats-server.conf"
  bootstrap_path  = "/usr/local/lib/meridian/bootstrap-site.sh"
  meridian_prefix = dirname(dirname(var.meridian_bin))
  server_name     = coalesce(var.nats.server_name, "${var.site}-1")
  gateway_key     = "${local.pki_dir}/sites/${var.site}/gateway/${var.gateway.name}.key"
  gateway_cert    = "${local.pki_dir}/sites/${var.site}/gateway/${var.gateway.name}.crt"
  gw_advertise    = coalesce(var.gateway.advertise, var.address)

  # Every config names absolute paths: the services run with WorkingDirectory at the state dir.
  site_config = merge(
    {
      site     = var.site
      region   = var.region
      platform = var.platform
      pkiDir   = local.pki_dir
      nats     = { url = "nats://127.0.0.1:${var.nats.client_port}" }
    },
    !var.control.status_api ? {} : {
      status = {
        host      = var.control.status_host
        port      = var.control.status_port
        tokenFile = "${local.state_dir}/status-token"
        tls       = var.control.status_tls
      }
    },
    var.control.join_port == null ? {} : {
      join = merge(
        { host = var.control.join_host, port = var.control.join_port },
        var.control.join_agent_ttl == null ? {} : { agentTtl = var.control.join_agent_ttl },
      )
    },
  )

  gateway_config = merge(
    {
      site      = var.site
      region    = var.region
      zone      = var.zone
      platform  = var.platform
      name      = var.gateway.name
      listen    = { host = var.gateway.listen_host, port = var.gateway.listen_port }
      advertise = local.gw_advertise
      keyFile   = local.gateway_key
      certFile  = local.gateway_cert
      nats = {
        url          = "nats://127.0.0.1:${var.nats.client_port}"
        passwordFile = "${local.nats_dir}/nats-password"
        bundleFile   = "${local.pki_dir}/bundle.pem"
        trustDomain  = var.trust_domain
      }
      heartbeat = var.gateway.heartbeat
    },
    var.gateway.metrics_port == null ? {} : { metrics = { host = "127.0.0.1", port = var.gateway.metrics_port } },
  )

  site_json    = "${jsonencode(local.site_config)}\n"
  gateway_json = "${jsonencode(local.gateway_config)}\n"

  # Same block syntax as services/site/nats-conf.ts renders (JSON strings are valid NATS config).
  nats_server_conf = templatefile("${path.module}/templates/nats-server.conf.tftpl", {
    site         = var.site
    server_name  = local.server_name
    listen_host  = var.nats.listen_host
    client_port  = var.nats.client_port
    cluster_port = var.nats.cluster_port
    gateway_port = var.nats.gateway_port
    routes       = coalesce(var.nats.routes, ["nats://127.0.0.1:${var.nats.cluster_port}"])
    advertise    = "${var.address}:${var.nats.gateway_port}"
    store_dir    = "${local.state_dir}/nats/jetstream"
    remotes      = [for name in sort(keys(var.remote_gateways)) : { name = name, urls = var.remote_gateways[name] } if name != var.site]
  })
}
