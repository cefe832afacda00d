# Renders the agent's cloud-init, config and unit with plan only: no provider, nothing created.

variables {
  trust_domain    = "acme.internal"
  site            = "us-vm"
  node            = "vm-1"
  region          = "us-east"
  zone            = "us-east-1a"
  control_address = "control.us-vm.internal:8443"
  join_token      = "mjt1.us-vm.0123456789abcdef0123456789abcdef"
  nats_url        = "nats://nats.us-vm.internal:4222"
  artifact        = "https://releases.example.com/meridian-0.1.0.tgz"
}

run "agent_config_names_the_site_node_and_credentials" {
  command = plan

  assert {
    condition     = jsondecode(output.agent_config).site == "us-vm" && jsondecode(output.agent_config).node == "vm-1" && jsondecode(output.agent_config).platform == "vm"
    error_message = "agent.json must carry the site, node and platform"
  }
  assert {
    condition = jsondecode(output.agent_config).nats == {
      url          = "nats://nats.us-vm.internal:4222"
      trustDomain  = "acme.internal"
      passwordFile = "/var/lib/meridian/credentials/nats-password"
      keyFile      = "/var/lib/meridian/credentials/agent.key"
      certFile     = "/var/lib/meridian/credentials/agent.crt"
      bundleFile   = "/var/lib/meridian/credentials/bundle.pem"
    }
    error_message = "agent.json must point at the credentials `meridian agent join` writes"
  }
  assert {
    condition     = jsondecode(output.agent_config).dataDir == "/var/lib/meridian/agent" && jsondecode(output.agent_config).api == { host = "127.0.0.1", port = 8510 }
    error_message = "agent.json keeps its data in the unit's StateDirectory and its API on localhost"
  }
  assert {
    condition     = !can(jsondecode(output.agent_config).mesh) && !can(jsondecode(output.agent_config).allowedServices)
    error_message = "optional sections stay absent unless set"
  }
  assert {
    condition     = output.agent_config_path == "/etc/meridian/agent.json" && output.unit_path == "/etc/systemd/system/meridian-agent.service"
    error_message = "installed paths follow the contract"
  }
}

run "unit_runs_the_installed_binary_without_capabilities" {
  command = plan

  assert {
    condition     = strcontains(output.unit, "\nExecStart=/usr/local/bin/meridian agent run --config /etc/meridian/agent.json\n")
    error_message = "ExecStart runs the installed meridian with the installed config"
  }
  assert {
    condition     = strcontains(output.unit, "\nCapabilityBoundingSet=\nAmbientCapabilities=\n") && !strcontains(output.unit, "CAP_NET_BIND_SERVICE")
    error_message = "an agent on unprivileged ports gets no capability"
  }
  assert {
    condition     = strcontains(output.unit, "ExecReload=/bin/kill -HUP $MAINPID\n") && endswith(output.unit, "[Install]\nWantedBy=multi-user.target\n")
    error_message = "the unit keeps $MAINPID literal and ends with its [Install] section"
  }
  assert {
    condition     = output.sysusers == "u meridian - \"Meridian agent\" /var/lib/meridian\n"
    error_message = "the sysusers line follows the contract"
  }
}

run "privileged_port_grants_net_bind_service_only" {
  command = plan

  variables {
    mesh = { inbound_port = 443 }
  }

  assert {
    condition     = strcontains(output.unit, "\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n")
    error_message = "a mesh port below 1024 needs CAP_NET_BIND_SERVICE and nothing else"
  }
  assert {
    condition     = jsondecode(output.agent_config).mesh == { host = "0.0.0.0", inboundPort = 443 }
    error_message = "the mesh section carries the inbound port"
  }
}

run "user_data_is_cloud_config_that_joins_and_starts" {
  command = plan

  assert {
    condition     = startswith(output.user_data, "#cloud-config\n")
    error_message = "user data starts with #cloud-config"
  }
  assert {
    condition = [for f in yamldecode(output.user_data).write_files : f.path] == [
      "/etc/meridian/agent.json",
      "/etc/systemd/system/meridian-agent.service",
      "/usr/lib/sysusers.d/meridian.conf",
      "/usr/local/lib/meridian/bootstrap-agent.sh",
      "/run/meridian/join-token",
    ]
    error_message = "cloud-init writes the config, unit, sysusers file, bootstrap script and token"
  }
  assert {
    condition     = yamldecode(output.user_data).write_files[1].content == output.unit && yamldecode(output.user_data).write_files[0].content == output.agent_config
    error_message = "the files cloud-init writes are the module's outputs, byte for byte"
  }
  assert {
    condition     = yamldecode(output.user_data).write_files[4].content == var.join_token && yamldecode(output.user_data).write_files[4].permissions == "0600"
    error_message = "the token is written 0600 for the bootstrap"
  }
  assert {
    condition     = yamldecode(output.user_data).runcmd == [["/usr/local/lib/meridian/bootstrap-agent.sh"]]
    error_message = "cloud-init runs the bootstrap script"
  }
  assert {
    condition = alltrue([for line in [
      "npm install -g --prefix /usr/local --omit=dev --no-audit --no-fund \"$artifact\"",
      "curl -fsSL --proto '=https,http' -o \"$artifact\" 'https://releases.example.com/meridian-0.1.0.tgz'",
      "/usr/local/bin/meridian agent join --token \"$(cat \"$token_file\")\" --control control.us-vm.internal:8443 --config /etc/meridian/agent.json",
      "systemctl enable --now meridian-agent",
      "curl -fsSL https://deb.nodesource.com/setup_20.x | bash -",
    ] : strcontains(output.bootstrap_script, line)])
    error_message = "the bootstrap installs Node 20 and the artifact, joins with the token file and starts the agent"
  }
}

run "token_appears_only_in_user_data" {
  command = plan

  assert {
    condition = !anytrue([for text in [output.unit, output.agent_config, output.bootstrap_script, output.sysusers, output.identity] :
    strcontains(text, var.join_token)])
    error_message = "the join token must not appear outside user_data"
  }
  assert {
    condition     = strcontains(output.user_data, var.join_token)
    error_message = "user_data carries the token"
  }
}

run "distro_node_and_local_artifact_with_checksum" {
  command = plan

  variables {
    node_install    = "distro"
    artifact        = "/opt/meridian/meridian-0.1.0.tgz"
    artifact_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    meridian_bin    = "/opt/meridian/bin/meridian"
  }

  assert {
    condition     = contains(yamldecode(output.user_data).packages, "nodejs") && !strcontains(output.bootstrap_script, "deb.nodesource.com")
    error_message = "distro mode installs the distribution's nodejs"
  }
  assert {
    condition     = strcontains(output.bootstrap_script, "artifact='/opt/meridian/meridian-0.1.0.tgz'") && !strcontains(output.bootstrap_script, "curl -fsSL --proto")
    error_message = "a local artifact is installed from its path"
  }
  assert {
    condition     = strcontains(output.bootstrap_script, "sha256sum -c -") && strcontains(output.bootstrap_script, "--prefix /opt/meridian ")
    error_message = "the checksum is verified and npm installs into meridian_bin's prefix"
  }
  assert {
    condition     = strcontains(output.unit, "ExecStart=/opt/meridian/bin/meridian agent run")
    error_message = "the unit runs meridian_bin"
  }
}
