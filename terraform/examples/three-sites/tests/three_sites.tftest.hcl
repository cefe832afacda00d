# Applies the example with built-in resources only: three linked sites, an agent where a token exists.

variables {
  join_tokens = {
    us-vm  = "mjt1.us-vm.0123456789abcdef0123456789abcdef"
    onprem = "mjt1.onprem.fedcba9876543210fedcba9876543210"
  }
}

run "three_sites_link_to_each_other" {
  command = apply

  assert {
    condition = alltrue([for name, conf in output.nats_server_conf : alltrue([for other in ["eu-k8s", "us-vm", "onprem"] :
    strcontains(conf, "{ name: \"${other}\", urls: [\"nats://control.${other}.acme.internal:7222\"] }") == (other != name)])])
    error_message = "each site's gateway block lists the two other sites and not itself"
  }
  assert {
    condition     = [for name in sort(keys(output.control_user_data)) : startswith(output.control_user_data[name], "#cloud-config\n")] == [true, true, true]
    error_message = "every control host gets cloud-config user data"
  }
  assert {
    condition     = strcontains(output.control_user_data["eu-k8s"], "ca init --trust-domain acme.internal") && !strcontains(output.control_user_data["us-vm"], "ca init")
    error_message = "only the root site creates the root CA; the others request their site CA"
  }
  assert {
    condition     = jsondecode(output.site_json["onprem"]).join == { host = "0.0.0.0", port = 8443 } && jsondecode(output.site_json["onprem"]).platform == "bare-metal"
    error_message = "site.json carries the join endpoint the agents dial"
  }
}

run "agents_join_their_own_site" {
  command = apply

  assert {
    condition     = join(",", sort(keys(output.agent_config))) == "onprem,us-vm"
    error_message = "only sites with a token get an agent"
  }
  assert {
    condition     = jsondecode(output.agent_config["us-vm"]).node == "vm-1" && jsondecode(output.agent_config["us-vm"]).nats.url == "nats://control.us-vm.acme.internal:4222"
    error_message = "the agent connects to its own site's NATS"
  }
  assert {
    condition     = strcontains(output.agent_user_data["onprem"], var.join_tokens["onprem"]) && !strcontains(output.agent_user_data["onprem"], var.join_tokens["us-vm"])
    error_message = "each VM's user data carries its own site's token only"
  }
  assert {
    condition = !anytrue(flatten([for token in values(var.join_tokens) : [for text in concat(values(output.control_user_data), values(output.agent_config), values(output.agent_unit), values(output.site_json)) :
    strcontains(text, token)]]))
    error_message = "tokens appear in agent user data only"
  }
  assert {
    condition     = strcontains(output.token_commands["us-vm"], "token create --site us-vm --config /etc/meridian/site.json --node vm-1")
    error_message = "the token command names the site and the node"
  }
}
