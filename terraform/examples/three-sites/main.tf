locals {
  # Every site's NATS gateway URL, so each site lists the others (the supercluster links).
  gateway_urls = { for name, site in var.sites : name => ["nats://${site.address}:7222"] }
  # Agents are rendered once their site's token exists (the control host must run first).
  agent_sites = toset([for name in nonsensitive(keys(var.join_tokens)) : name if contains(keys(var.sites), name)])
}

module "site" {
  source   = "../../modules/site"
  for_each = var.sites

  trust_domain    = var.trust_domain
  site            = each.key
  region          = each.value.region
  zone            = each.value.zone
  platform        = each.value.platform
  address         = each.value.address
  ca_role         = each.value.ca_role
  artifact        = var.artifact
  remote_gateways = { for name, urls in local.gateway_urls : name => urls if name != each.key }
  control         = { join_port = var.join_port }
}

module "agent" {
  source   = "../../modules/vm-agent"
  for_each = local.agent_sites

  trust_domain    = var.trust_domain
  site            = each.key
  node            = var.sites[each.key].agent_node
  region          = var.sites[each.key].region
  zone            = var.sites[each.key].zone
  platform        = var.sites[each.key].platform == "kubernetes" ? "vm" : var.sites[each.key].platform
  control_address = module.site[each.key].control_address
  nats_url        = module.site[each.key].nats_url
  join_token      = var.join_tokens[each.key]
  artifact        = var.artifact
  mesh            = { inbound_port = 15443 }
}

# Stands in for each site's control host: replace with your cloud's instance resource and pass
# the same user data (e.g. aws_instance.user_data). Built in, so this example applies offline.
resource "terraform_data" "control_host" {
  for_each = var.sites
  input = {
    address   = each.value.address
    user_data = module.site[each.key].user_data
  }
}
