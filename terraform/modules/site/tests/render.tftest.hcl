# Renders the control host's configs and cloud-init with plan only: no provider, nothing created.

variables {
  trust_domain    = "acme.internal"
  site            = "eu-k8s"
  region          = "eu-west"
  zone            = "eu-west-1a"
  address         = "control.eu.internal"
  ca_role         = "root"
  artifact        = "https://releases.example.com/meridian-0.1.0.tgz"
  remote_gateways = { us-vm = ["nats://control.us.internal:7222"], onprem = ["nats://10.0.0.5:7222"] }
  control         = { join_port = 8443 }
}

run "site_json_is_the_control_service_config" {
  command = plan

  assert {
    condition = jsondecode(output.site_json) == {
      site     = "eu-k8s"
      region   = "eu-west"
      platform = "vm"
      pkiDir   = "/var/lib/meridian/pki"
      nats     = { url = "nats://127.0.0.1:4222" }
      status   = { host = "127.0.0.1", port = 8600, tls = false, tokenFile = "/var/lib/meridian/status-token" }
      join     = { host = "0.0.0.0", port = 8443 }
    }
    error_message = "site.json must carry the site, its PKI dir, the local NATS, the status API and the join endpoint"
  }
}

run "gateway_json_is_the_gateway_config" {
  command = plan

  assert {
    condition = jsondecode(output.gateway_json) == {
      site      = "eu-k8s"
      region    = "eu-west"
      zone      = "eu-west-1a"
      platform  = "vm"
      name      = "gw-1"
      listen    = { host = "0.0.0.0", port = 15440 }
      advertise = "control.eu.internal"
      keyFile   = "/var/lib/meridian/pki/sites/eu-k8s/gateway/gw-1.key"
      certFile  = "/var/lib/meridian/pki/sites/eu-k8s/gateway/gw-1.crt"
      heartbeat = "2s"
      nats = {
        url          = "nats://127.0.0.1:4222"
        passwordFile = "/etc/meridian/nats/nats-password"
        bundleFile   = "/var/lib/meridian/pki/bundle.pem"
        trustDomain  = "acme.internal"
      }
    }
    error_message = "gateway.json must name the gateway identity `meridian ca issue` writes and the site's NATS password"
  }
}

run "nats_conf_links_the_other_sites_and_includes_the_site_tls" {
  command = plan

  assert {
    condition     = strcontains(output.nats_server_conf, "cluster {\n  name: \"eu-k8s\"\n  listen: \"0.0.0.0:6222\"\n  routes: [\"nats://127.0.0.1:6222\"]\n}\n")
    error_message = "the cluster block is named after the site and routes to itself"
  }
  assert {
    condition     = strcontains(output.nats_server_conf, "    { name: \"onprem\", urls: [\"nats://10.0.0.5:7222\"] }\n    { name: \"us-vm\", urls: [\"nats://control.us.internal:7222\"] }\n  ]\n}\n")
    error_message = "the gateway block lists every other site"
  }
  assert {
    condition     = strcontains(output.nats_server_conf, "advertise: \"control.eu.internal:7222\"") && strcontains(output.nats_server_conf, "server_name: \"eu-k8s-1\"")
    error_message = "the gateway advertises the host's address; the server name defaults to <site>-1"
  }
  assert {
    condition     = endswith(output.nats_server_conf, "\ninclude nats-site.conf\n")
    error_message = "the site's TLS and users come from nats-site.conf next to the config"
  }
  assert {
    condition     = output.nats_gateway_urls == ["nats://control.eu.internal:7222"] && output.nats_url == "nats://control.eu.internal:4222" && output.control_address == "control.eu.internal:8443"
    error_message = "the addresses other sites and agents use are built from the host's address"
  }
}

run "cloud_init_bootstraps_the_ca_on_the_host" {
  command = plan

  assert {
    condition     = startswith(output.user_data, "#cloud-config\n") && contains(yamldecode(output.user_data).packages, "nats-server")
    error_message = "cloud-config installs nats-server"
  }
  assert {
    condition = [for f in yamldecode(output.user_data).write_files : f.path] == [
      "/etc/meridian/site.json",
      "/etc/meridian/gateway.json",
      "/etc/meridian/nats/nats-server.conf",
      "/usr/lib/sysusers.d/meridian.conf",
      "/usr/local/lib/meridian/bootstrap-site.sh",
      "/etc/systemd/system/meridian-gateway.service",
      "/etc/systemd/system/meridian-nats.service",
      "/etc/systemd/system/meridian-site.service",
    ]
    error_message = "cloud-init writes the configs, the bootstrap and the three units"
  }
  assert {
    condition = alltrue([for line in [
      "\"$meridian\" ca init --trust-domain acme.internal --dir \"$pki\"",
      "\"$meridian\" ca site eu-k8s --dir \"$pki\"",
      "\"$meridian\" site nats-config eu-k8s --out /etc/meridian/nats --dir \"$pki\"",
      "\"$meridian\" ca issue --site eu-k8s --kind gateway --name gw-1 --ttl 24h --dir \"$pki\"",
      "systemctl enable --now meridian-nats.service meridian-site.service meridian-gateway.service",
    ] : strcontains(output.bootstrap_script, line)])
    error_message = "the bootstrap makes the CA, the NATS TLS and the gateway identity on the host, then starts the services"
  }
  assert {
    condition     = !strcontains(output.user_data, "PRIVATE KEY") && yamldecode(output.user_data).runcmd == [["/usr/local/lib/meridian/bootstrap-site.sh"]]
    error_message = "no key travels in user data"
  }
  assert {
    condition     = strcontains(output.units["meridian-site.service"], "\nExecStart=/usr/local/bin/meridian site serve --config /etc/meridian/site.json\n") && strcontains(output.units["meridian-gateway.service"], "\nExecStart=/usr/local/bin/meridian gateway run --config /etc/meridian/gateway.json\n") && strcontains(output.units["meridian-nats.service"], "\nExecStart=/usr/sbin/nats-server -c /etc/meridian/nats/nats-server.conf\n")
    error_message = "each unit runs its command with the rendered config"
  }
  assert {
    condition     = alltrue([for name, text in output.units : strcontains(text, "\nStartLimitIntervalSec=0\n") && strcontains(text, "\nRestart=on-failure\nRestartSec=5\n")])
    error_message = "the control host's services keep restarting until NATS and the other sites are up"
  }
}

run "site_ca_role_requests_the_site_ca_from_the_root" {
  command = plan

  variables {
    ca_role = "site"
    control = { status_api = false }
  }

  assert {
    condition     = strcontains(output.bootstrap_script, "\"$meridian\" ca csr --trust-domain acme.internal --site eu-k8s --out \"$site_dir/request\"") && !strcontains(output.bootstrap_script, "ca init")
    error_message = "a site without the root makes its CA key and CSR on the host"
  }
  assert {
    condition     = !can(jsondecode(output.site_json).status) && !can(jsondecode(output.site_json).join) && output.control_address == null
    error_message = "without ports the status API and the join endpoint stay out of site.json"
  }
}

run "join_endpoint_carries_the_agent_certificate_lifetime" {
  command = plan

  variables {
    control = { join_port = 9443, join_host = "10.0.0.4", join_agent_ttl = "12h" }
  }

  assert {
    condition     = jsondecode(output.site_json).join == { host = "10.0.0.4", port = 9443, agentTtl = "12h" } && output.control_address == "control.eu.internal:9443"
    error_message = "site.json's join section carries host, port and agentTtl"
  }
}
