#!/usr/bin/env bash
# Installs what Meridian needs on a Debian/Ubuntu machine with Node 20: the npm dependencies
# (from the npm registry) and the given system packages (from the system package manager).
# Usage: scripts/setup.sh [debian-package ...]   e.g. scripts/setup.sh nats-server redis-server
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_npm_dependencies() {
  local stamp=node_modules/.meridian-lock-sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [[ -L node_modules ]]; then
    # A checkout sharing another one's dependencies through a link: `npm ci` would empty the
    # shared tree under every other checkout. Install in the checkout the link points to.
    [[ -f $stamp && $(cat "$stamp") == "$want" ]] || echo "setup: node_modules is a link to $(readlink -f node_modules); run npm ci there if it is out of date" >&2
    return 0
  fi
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    echo "setup: installing npm dependencies (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
}

# The binary each Debian package provides; nats-server lives in /usr/sbin, often off a user's PATH.
binary_of() {
  case $1 in
    nats-server) echo nats-server ;;
    redis-server) echo redis-server ;;
    nginx) echo nginx ;;
    haproxy) echo haproxy ;;
    wrk) echo wrk ;;
    nghttp2-client) echo h2load ;;
    chromium) echo chromium ;;
    prometheus) echo prometheus ;;
    systemd) echo systemd-analyze ;;
    bind9-dnsutils) echo dig ;;
    *) echo "$1" ;;
  esac
}

has_binary() {
  command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /usr/local/sbin/$1 || -x /usr/bin/$1 ]]
}

ensure_system_packages() {
  local missing=() pkg
  for pkg in "$@"; do has_binary "$(binary_of "$pkg")" || missing+=("$pkg"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      echo "setup: Meridian needs ${missing[*]}. Install with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: Meridian needs ${missing[*]} (Debian/Ubuntu package names); install them with your system package manager" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} with apt-get" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Terraform is not in Debian: it comes from HashiCorp's apt repository, added the way HashiCorp's
# install guide does. Where that repository cannot be reached, the setup says so and goes on: the
# Terraform tests then fail naming what did not run.
ensure_terraform() {
  has_binary terraform && return 0
  local sudo=() codename
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      echo "setup: the Terraform tests need terraform: https://developer.hashicorp.com/terraform/install" >&2
      return 0
    fi
  fi
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "setup: installing terraform from HashiCorp's apt repository (apt.releases.hashicorp.com)" >&2
  if ! {
    ensure_system_packages curl gpg &&
      curl -fsSL --max-time 30 https://apt.releases.hashicorp.com/gpg | "${sudo[@]}" gpg --dearmor --yes -o /usr/share/keyrings/hashicorp-archive-keyring.gpg &&
      echo "deb [signed-by=/usr/share/keyrings/hashicorp-archive-keyring.gpg] https://apt.releases.hashicorp.com $codename main" | "${sudo[@]}" tee /etc/apt/sources.list.d/hashicorp.list >/dev/null &&
      "${sudo[@]}" apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq terraform >&2
  }; then
    "${sudo[@]}" rm -f /etc/apt/sources.list.d/hashicorp.list
    echo "setup: could not install terraform (HashiCorp's repository unreachable?); the Terraform tests will fail naming what did not run. Install it: https://developer.hashicorp.com/terraform/install" >&2
  fi
}

packages=()
want_terraform=0
for pkg in "$@"; do
  if [[ $pkg == terraform ]]; then want_terraform=1; else packages+=("$pkg"); fi
done
ensure_npm_dependencies
ensure_system_packages "${packages[@]}"
if [[ $want_terraform -eq 1 ]]; then ensure_terraform; fi
