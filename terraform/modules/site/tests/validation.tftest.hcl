# Bad inputs are refused at plan with a message naming the variable.

variables {
  trust_domain = "acme.internal"
  site         = "eu-k8s"
  region       = "eu-west"
  zone         = "eu-west-1a"
  address      = "control.eu.internal"
  artifact     = "https://releases.example.com/meridian-0.1.0.tgz"
}

run "site_must_be_a_dns_label" {
  command = plan
  variables {
    site = "eu_k8s"
  }
  expect_failures = [var.site]
}

run "address_has_no_port_or_scheme" {
  command = plan
  variables {
    address = "https://control.eu.internal:4222"
  }
  expect_failures = [var.address]
}

run "nats_ports_must_be_in_range" {
  command = plan
  variables {
    nats = { gateway_port = 70000 }
  }
  expect_failures = [var.nats]
}

run "nats_ports_must_differ" {
  command = plan
  variables {
    nats = { cluster_port = 4222 }
  }
  expect_failures = [var.nats]
}

run "remote_gateway_urls_must_be_nats_urls" {
  command = plan
  variables {
    remote_gateways = { us-vm = ["http://control.us.internal:7222"] }
  }
  expect_failures = [var.remote_gateways]
}

run "remote_gateway_names_must_be_sites" {
  command = plan
  variables {
    remote_gateways = { "US VM" = ["nats://control.us.internal:7222"] }
  }
  expect_failures = [var.remote_gateways]
}

run "control_ports_must_be_in_range" {
  command = plan
  variables {
    control = { join_port = 0 }
  }
  expect_failures = [var.control]
}

run "gateway_name_must_be_a_dns_label" {
  command = plan
  variables {
    gateway = { name = "GW 1" }
  }
  expect_failures = [var.gateway]
}

run "gateway_durations_must_parse" {
  command = plan
  variables {
    gateway = { certificate_ttl = "one day" }
  }
  expect_failures = [var.gateway]
}

run "paths_must_be_absolute" {
  command = plan
  variables {
    paths = { state_dir = "var/lib/meridian" }
  }
  expect_failures = [var.paths]
}

run "ca_role_must_be_known" {
  command = plan
  variables {
    ca_role = "intermediate"
  }
  expect_failures = [var.ca_role]
}

run "platform_must_be_known" {
  command = plan
  variables {
    platform = "lambda"
  }
  expect_failures = [var.platform]
}

run "join_agent_ttl_must_be_a_duration" {
  command = plan
  variables {
    control = { join_port = 8443, join_agent_ttl = "a day" }
  }
  expect_failures = [var.control]
}

run "gateway_advertise_is_a_host_without_port" {
  command = plan
  variables {
    gateway = { advertise = "gw.eu.internal:15440" }
  }
  expect_failures = [var.gateway]
}
