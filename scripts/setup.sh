#!/usr/bin/env bash
# Installs what Meridian needs on a Debian/Ubuntu machine with Node 20: the npm dependencies
# (from the npm registry) and the given system packages (from the system package manager).
# Usage: scripts/setup.sh [debian-package ...]   e.g. scripts/setup.sh nats-server redis-server
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_npm_dependencies() {
  local stamp=node_modules/.meridian-lock-sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
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

ensure_npm_dependencies
ensure_system_packages "$@"
