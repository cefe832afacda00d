variable "trust_domain" {
  description = "The federation's trust domain (e.g. acme.internal)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$", var.trust_domain)) && length(var.trust_domain) <= 253
    error_message = "trust_domain must be a lower-case DNS name such as acme.internal (labels of a-z, 0-9 and '-', at most 253 characters)."
  }
}

variable "site" {
  description = "The site's name (a lower-case DNS label): its NATS cluster, gateway and CA are named after it."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.site))
    error_message = "site must be a lower-case DNS label (a-z, 0-9 and '-', 1 to 63 characters, no leading or trailing '-')."
  }
}

variable "region" {
  description = "The site's region (shown in the federation status, used for locality failover)."
  type        = string
  validation {
    condition     = length(trimspace(var.region)) > 0
    error_message = "region must not be empty."
  }
}

variable "zone" {
  description = "The zone of the control host (its gateway's locality)."
  type        = string
  validation {
    condition     = length(trimspace(var.zone)) > 0
    error_message = "zone must not be empty."
  }
}

variable "platform" {
  description = "What the site is: kubernetes, vm or bare-metal."
  type        = string
  default     = "vm"
  validation {
    condition     = contains(["kubernetes", "vm", "bare-metal"], var.platform)
    error_message = "platform must be one of kubernetes, vm, bare-metal."
  }
}

variable "address" {
  description = "The control host's address as the site's VMs and the other sites reach it (DNS name or IP): NATS, gateway and join URLs are built from it."
  type        = string
  validation {
    condition     = can(regex("^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])$", var.address))
    error_message = "address must be a host name or IP address (IPv6 in brackets), without a scheme or port."
  }
}

variable "ca_role" {
  description = "root: this control host holds the federation's root CA (created on first boot with `meridian ca init`) and issues its own site CA. site: the site CA is signed where the root lives; the host makes the key and CSR and waits for the certificate (see README)."
  type        = string
  default     = "site"
  validation {
    condition     = contains(["root", "site"], var.ca_role)
    error_message = "ca_role must be root or site."
  }
}

variable "nats" {
  description = "The site's nats-server: client, cluster (routes) and gateway ports, listen host, server name (default <site>-1) and cluster routes (default a route to itself)."
  type = object({
    listen_host  = optional(string, "0.0.0.0")
    client_port  = optional(number, 4222)
    cluster_port = optional(number, 6222)
    gateway_port = optional(number, 7222)
    server_name  = optional(string)
    routes       = optional(list(string))
  })
  default = {}
  validation {
    condition = alltrue([for p in [var.nats.client_port, var.nats.cluster_port, var.nats.gateway_port] :
    p == floor(p) && p >= 1 && p <= 65535])
    error_message = "nats.client_port, nats.cluster_port and nats.gateway_port must be integers from 1 to 65535."
  }
  validation {
    condition     = length(distinct([var.nats.client_port, var.nats.cluster_port, var.nats.gateway_port])) == 3
    error_message = "nats.client_port, nats.cluster_port and nats.gateway_port must differ."
  }
  validation {
    condition     = alltrue([for r in coalesce(var.nats.routes, []) : can(regex("^nats://[A-Za-z0-9.\\[\\]:-]+:[0-9]{1,5}$", r))])
    error_message = "nats.routes must be URLs such as nats://nats-2.eu.internal:6222."
  }
  validation {
    condition     = var.nats.server_name == null || can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", coalesce(var.nats.server_name, "x")))
    error_message = "nats.server_name must be 1 to 64 characters of letters, digits, '.', '_' and '-' (unique across the supercluster)."
  }
}

variable "remote_gateways" {
  description = "The other sites' NATS gateway URLs, by site name (e.g. { us-vm = [\"nats://control.us.internal:7222\"] }): the supercluster links."
  type        = map(list(string))
  default     = {}
  validation {
    condition     = alltrue([for name in keys(var.remote_gateways) : can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", name))])
    error_message = "remote_gateways keys must be site names (lower-case DNS labels)."
  }
  validation {
    condition = alltrue(flatten([for urls in values(var.remote_gateways) : concat([length(urls) > 0], [for u in urls :
    can(regex("^nats://[A-Za-z0-9.\\[\\]:-]+:([0-9]{1,5})$", u)) && try(tonumber(regex(":([0-9]{1,5})$", u)[0]) <= 65535 && tonumber(regex(":([0-9]{1,5})$", u)[0]) >= 1, false)])]))
    error_message = "remote_gateways URLs must look like nats://host:port (port 1 to 65535), at least one per site."
  }
}

variable "control" {
  description = "The control service: status API (status_api false: none; host, port, TLS) and join endpoint (host, port, lifetime of the agent certificates it issues; join_port unset: not rendered)."
  type = object({
    status_api     = optional(bool, true)
    status_host    = optional(string, "127.0.0.1")
    status_port    = optional(number, 8600)
    status_tls     = optional(bool, false)
    join_host      = optional(string, "0.0.0.0")
    join_port      = optional(number)
    join_agent_ttl = optional(string)
  })
  default = {}
  validation {
    condition = alltrue([for p in [var.control.status_port, var.control.join_port] :
    p == null || try(p == floor(p) && p >= 1 && p <= 65535, false)])
    error_message = "control.status_port and control.join_port must be integers from 1 to 65535."
  }
  validation {
    condition     = var.control.join_agent_ttl == null || can(regex("^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$", coalesce(var.control.join_agent_ttl, "x")))
    error_message = "control.join_agent_ttl must be a duration such as 24h."
  }
}

variable "gateway" {
  description = "The site's east-west gateway on the control host: name, listen host/port, the host other sites dial at listen_port (default: address), heartbeat, certificate lifetime, metrics port (null: none)."
  type = object({
    name            = optional(string, "gw-1")
    listen_host     = optional(string, "0.0.0.0")
    listen_port     = optional(number, 15440)
    advertise       = optional(string)
    heartbeat       = optional(string, "2s")
    certificate_ttl = optional(string, "24h")
    metrics_port    = optional(number)
  })
  default = {}
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.gateway.name))
    error_message = "gateway.name must be a lower-case DNS label."
  }
  validation {
    condition = alltrue([for p in [var.gateway.listen_port, var.gateway.metrics_port] :
    p == null || try(p == floor(p) && p >= 1 && p <= 65535, false)])
    error_message = "gateway.listen_port and gateway.metrics_port must be integers from 1 to 65535."
  }
  validation {
    condition     = var.gateway.advertise == null || can(regex("^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])$", coalesce(var.gateway.advertise, "x")))
    error_message = "gateway.advertise must be a host name or IP address without a port (other sites' gateways dial it at gateway.listen_port)."
  }
  validation {
    condition     = alltrue([for d in [var.gateway.heartbeat, var.gateway.certificate_ttl] : can(regex("^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$", d))])
    error_message = "gateway.heartbeat and gateway.certificate_ttl must be durations such as 2s, 24h."
  }
}

variable "paths" {
  description = "Where things live on the control host: config_dir (site.json, gateway.json, nats/), state_dir (PKI, JetStream store, status token)."
  type = object({
    config_dir = optional(string, "/etc/meridian")
    state_dir  = optional(string, "/var/lib/meridian")
  })
  default = {}
  validation {
    condition     = alltrue([for p in [var.paths.config_dir, var.paths.state_dir] : can(regex("^(/[A-Za-z0-9._-]+)+$", p))])
    error_message = "paths.config_dir and paths.state_dir must be absolute paths (letters, digits, '.', '_', '-')."
  }
}

variable "artifact" {
  description = "The Meridian release artifact (`npm pack` tarball): an https:// URL or an absolute path on the host."
  type        = string
  validation {
    condition     = can(regex("^(https?://[^\\s']+|/[^\\s']+)\\.tgz$", var.artifact))
    error_message = "artifact must be an http(s) URL or an absolute path of the npm pack tarball, ending in .tgz (e.g. https://releases.example.com/meridian-0.1.0.tgz)."
  }
}

variable "artifact_sha256" {
  description = "Expected SHA-256 of the artifact (hex); the host refuses a tarball that differs. null: not checked."
  type        = string
  default     = null
  validation {
    condition     = var.artifact_sha256 == null || can(regex("^[0-9a-f]{64}$", coalesce(var.artifact_sha256, "x")))
    error_message = "artifact_sha256 must be 64 lower-case hex digits."
  }
}

variable "node_install" {
  description = "How the host gets Node.js 20: nodesource, distro (must be Node 20 or newer) or preinstalled."
  type        = string
  default     = "nodesource"
  validation {
    condition     = contains(["nodesource", "distro", "preinstalled"], var.node_install)
    error_message = "node_install must be one of nodesource, distro, preinstalled."
  }
}

variable "meridian_bin" {
  description = "Absolute path of the installed meridian command: npm installs into the prefix two levels above it."
  type        = string
  default     = "/usr/local/bin/meridian"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9._-]+)*/bin/meridian$", var.meridian_bin))
    error_message = "meridian_bin must be an absolute path ending in /bin/meridian (npm's global bin directory), e.g. /usr/local/bin/meridian."
  }
}

variable "nats_server_bin" {
  description = "Absolute path of nats-server (Debian's nats-server package installs /usr/sbin/nats-server)."
  type        = string
  default     = "/usr/sbin/nats-server"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9._-]+)+$", var.nats_server_bin))
    error_message = "nats_server_bin must be an absolute path."
  }
}
