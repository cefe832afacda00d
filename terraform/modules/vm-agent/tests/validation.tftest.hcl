# Bad inputs are refused at plan with a message naming the variable.

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

run "site_must_be_a_dns_label" {
  command = plan
  variables {
    site = "US_VM"
  }
  expect_failures = [var.site]
}

run "node_must_be_a_dns_label" {
  command = plan
  variables {
    node = "-vm"
  }
  expect_failures = [var.node]
}

run "trust_domain_must_be_a_dns_name" {
  command = plan
  variables {
    trust_domain = "acme..internal"
  }
  expect_failures = [var.trust_domain]
}

run "control_address_needs_a_port" {
  command = plan
  variables {
    control_address = "control.us-vm.internal"
  }
  expect_failures = [var.control_address]
}

run "control_port_must_be_in_range" {
  command = plan
  variables {
    control_address = "control.us-vm.internal:70000"
  }
  expect_failures = [var.control_address]
}

run "token_must_not_be_empty" {
  command = plan
  variables {
    join_token = ""
  }
  expect_failures = [var.join_token]
}

run "token_must_be_one_line" {
  command = plan
  variables {
    join_token = "abc def\n"
  }
  expect_failures = [var.join_token]
}

run "api_port_must_be_in_range" {
  command = plan
  variables {
    api_port = 0
  }
  expect_failures = [var.api_port]
}

run "mesh_port_must_be_in_range" {
  command = plan
  variables {
    mesh = { inbound_port = 65536 }
  }
  expect_failures = [var.mesh]
}

run "heartbeat_must_be_a_duration" {
  command = plan
  variables {
    heartbeat = "2 seconds"
  }
  expect_failures = [var.heartbeat]
}

run "nats_url_must_be_nats_or_tls" {
  command = plan
  variables {
    nats_url = "http://nats:4222"
  }
  expect_failures = [var.nats_url]
}

run "artifact_must_be_a_tarball_url_or_path" {
  command = plan
  variables {
    artifact = "meridian@latest"
  }
  expect_failures = [var.artifact]
}

run "node_install_must_be_known" {
  command = plan
  variables {
    node_install = "snap"
  }
  expect_failures = [var.node_install]
}

run "meridian_bin_must_be_in_a_bin_dir" {
  command = plan
  variables {
    meridian_bin = "meridian"
  }
  expect_failures = [var.meridian_bin]
}

run "token_of_another_site_is_refused" {
  command = plan
  variables {
    join_token = "mjt1.eu-k8s.0123456789abcdef.secretsecretsecret.cahashcahashcahash"
  }
  expect_failures = [var.join_token]
}
