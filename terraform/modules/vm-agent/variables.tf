variable "trust_domain" {
  description = "The federation's trust domain (e.g. acme.internal): the agent accepts only certificates of it."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$", var.trust_domain)) && length(var.trust_domain) <= 253
    error_message = "trust_domain must be a lower-case DNS name such as acme.internal (labels of a-z, 0-9 and '-', at most 253 characters)."
  }
}

variable "site" {
  description = "The site this VM belongs to (a lower-case DNS label); its control service issues the join token."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.site))
    error_message = "site must be a lower-case DNS label (a-z, 0-9 and '-', 1 to 63 characters, no leading or trailing '-')."
  }
}

variable "node" {
  description = "The node name (a lower-case DNS label): the agent's identity is spiffe://<trust_domain>/site/<site>/agent/<node>."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.node))
    error_message = "node must be a lower-case DNS label (a-z, 0-9 and '-', 1 to 63 characters, no leading or trailing '-')."
  }
}

variable "region" {
  description = "The VM's region (shown in the catalog and used for locality failover)."
  type        = string
  validation {
    condition     = length(trimspace(var.region)) > 0
    error_message = "region must not be empty."
  }
}

variable "zone" {
  description = "The VM's zone within its region."
  type        = string
  validation {
    condition     = length(trimspace(var.zone)) > 0
    error_message = "zone must not be empty."
  }
}

variable "platform" {
  description = "Where the node runs: vm or bare-metal (kubernetes nodes run the agent as a pod instead)."
  type        = string
  default     = "vm"
  validation {
    condition     = contains(["vm", "bare-metal", "kubernetes"], var.platform)
    error_message = "platform must be one of vm, bare-metal, kubernetes."
  }
}

variable "control_address" {
  description = "host:port of the site control service's join endpoint (TLS 1.3); `meridian agent join --control` dials it."
  type        = string
  validation {
    condition     = can(regex("^(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\]):([0-9]{1,5})$", var.control_address)) && try(tonumber(regex(":([0-9]{1,5})$", var.control_address)[0]) >= 1 && tonumber(regex(":([0-9]{1,5})$", var.control_address)[0]) <= 65535, false)
    error_message = "control_address must be host:port (e.g. control.eu.internal:8443 or [fd00::1]:8443) with a port from 1 to 65535."
  }
}

variable "join_token" {
  description = "A single-use join token from `meridian token create --site <site> --node <node>` on the site's control host (expires after 15 minutes by default). Sensitive: it appears only in user_data."
  type        = string
  sensitive   = true
  validation {
    condition     = can(regex("^[!-~]+$", var.join_token)) && length(var.join_token) <= 4096
    error_message = "join_token must be the one-line token `meridian token create` prints: not empty, printable ASCII without spaces, at most 4096 characters."
  }
  validation {
    # Tokens read mjt1.<site>.<id>.<secret>.<ca hash>: one made for another site would be refused at join.
    condition     = !startswith(var.join_token, "mjt1.") || try(split(".", var.join_token)[1] == var.site, false)
    error_message = "join_token was created for another site: create it with `meridian token create --site <site>` on this site's control host."
  }
}

variable "nats_url" {
  description = "The site's NATS URL the agent connects to (nats:// or tls://host:port; TLS with trust-domain certificates is used either way)."
  type        = string
  validation {
    condition     = can(regex("^(nats|tls)://[A-Za-z0-9.\\[\\]:-]+:[0-9]{1,5}$", var.nats_url))
    error_message = "nats_url must look like nats://host:port or tls://host:port."
  }
}

variable "api_host" {
  description = "Address the agent's local API binds (keep 127.0.0.1 unless workloads call it from elsewhere)."
  type        = string
  default     = "127.0.0.1"
}

variable "api_port" {
  description = "Port of the agent's local API (below 1024 grants the unit CAP_NET_BIND_SERVICE)."
  type        = number
  default     = 8510
  validation {
    condition     = var.api_port == floor(var.api_port) && var.api_port >= 1 && var.api_port <= 65535
    error_message = "api_port must be an integer from 1 to 65535."
  }
}

variable "mesh" {
  description = "The node's data plane (mTLS inbound port stamped on its instances); null: catalog only."
  type = object({
    host         = optional(string, "0.0.0.0")
    inbound_port = optional(number, 15443)
  })
  default = null
  validation {
    condition     = var.mesh == null || try(var.mesh.inbound_port == floor(var.mesh.inbound_port) && var.mesh.inbound_port >= 1 && var.mesh.inbound_port <= 65535, false)
    error_message = "mesh.inbound_port must be an integer from 1 to 65535."
  }
}

variable "allowed_services" {
  description = "Services this node may register (names, or patterns with `*`); null: any service."
  type        = list(string)
  default     = null
  validation {
    condition     = var.allowed_services == null || alltrue([for s in coalesce(var.allowed_services, []) : can(regex("^[a-z0-9*][a-z0-9*-]{0,62}$", s))])
    error_message = "allowed_services entries must be lower-case names or patterns such as web-* (a-z, 0-9, '-', '*', at most 63 characters)."
  }
}

variable "definitions_dir" {
  description = "Directory of service definition files (YAML/JSON) the agent reads; null: services come from the API only."
  type        = string
  default     = null
  validation {
    condition     = var.definitions_dir == null || startswith(coalesce(var.definitions_dir, "/"), "/")
    error_message = "definitions_dir must be an absolute path."
  }
}

variable "heartbeat" {
  description = "How often the agent renews its catalog lease (a duration such as 2s)."
  type        = string
  default     = "2s"
  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$", var.heartbeat))
    error_message = "heartbeat must be a duration such as 500ms, 2s, 1m."
  }
}

variable "artifact" {
  description = "The Meridian release artifact (`npm pack` tarball): an https:// URL or an absolute path on the VM."
  type        = string
  validation {
    condition     = can(regex("^(https?://[^\\s]+|/[^\\s]+)\\.tgz$", var.artifact))
    error_message = "artifact must be an http(s) URL or an absolute path of the npm pack tarball, ending in .tgz (e.g. https://releases.example.com/meridian-0.1.0.tgz)."
  }
}

variable "artifact_sha256" {
  description = "Expected SHA-256 of the artifact (hex); the VM refuses to install a tarball that differs. null: not checked."
  type        = string
  default     = null
  validation {
    condition     = var.artifact_sha256 == null || can(regex("^[0-9a-f]{64}$", coalesce(var.artifact_sha256, "x")))
    error_message = "artifact_sha256 must be 64 lower-case hex digits."
  }
}

variable "node_install" {
  description = "How the VM gets Node.js 20: nodesource (deb.nodesource.com node_20.x), distro (the distribution's nodejs and npm; it must be Node 20 or newer) or preinstalled."
  type        = string
  default     = "nodesource"
  validation {
    condition     = contains(["nodesource", "distro", "preinstalled"], var.node_install)
    error_message = "node_install must be one of nodesource, distro, preinstalled."
  }
}

variable "meridian_bin" {
  description = "Absolute path of the installed meridian command: npm installs into the prefix two levels above it (default /usr/local)."
  type        = string
  default     = "/usr/local/bin/meridian"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9._-]+)*/bin/meridian$", var.meridian_bin))
    error_message = "meridian_bin must be an absolute path ending in /bin/meridian (npm's global bin directory), e.g. /usr/local/bin/meridian."
  }
}
