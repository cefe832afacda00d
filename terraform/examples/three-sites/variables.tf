variable "trust_domain" {
  description = "The federation's trust domain."
  type        = string
  default     = "acme.internal"
}

variable "artifact" {
  description = "The Meridian release artifact (`npm pack` tarball) every host installs."
  type        = string
  default     = "https://releases.example.com/meridian-0.1.0.tgz"
}

variable "sites" {
  description = "The sites: the control host's address, locality, whether it holds the root CA, and the VM that runs an agent."
  type = map(object({
    address    = string
    region     = string
    zone       = string
    platform   = string
    ca_role    = string
    agent_node = string
  }))
  default = {
    eu-k8s = { address = "control.eu-k8s.acme.internal", region = "eu-west", zone = "eu-west-1a", platform = "kubernetes", ca_role = "root", agent_node = "node-1" }
    us-vm  = { address = "control.us-vm.acme.internal", region = "us-east", zone = "us-east-1a", platform = "vm", ca_role = "site", agent_node = "vm-1" }
    onprem = { address = "control.onprem.acme.internal", region = "eu-central", zone = "rack-1", platform = "bare-metal", ca_role = "site", agent_node = "metal-1" }
  }
}

variable "join_port" {
  description = "The control services' join endpoint port (vm-agent dials <address>:<join_port>)."
  type        = number
  default     = 8443
}

variable "join_tokens" {
  description = "Join tokens by site, from `meridian token create --site <site> --node <agent_node>` on each control host once it runs. A site without a token gets no agent user data yet."
  type        = map(string)
  default     = {}
  sensitive   = true
}
