#!/usr/bin/env bash
# Installs ferry's build, test and runtime dependencies from Debian 12's
# packages.  Idempotent: only what is missing is installed.
# deploy/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format clang-tidy
  libpq-dev librdkafka-dev libjansson-dev libyaml-dev uuid-dev libcmocka-dev
  libmicrohttpd-dev prometheus curl jq
  postgresql-15 postgresql-15-wal2json postgresql-client-15
  kcat python3-kafka python3-confluent-kafka python3-jsonschema procps
  nodejs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The TypeScript example consumer's test runs npm ci: Debian's nodejs comes
# without npm (NodeSource's includes it).
if ! command -v npm >/dev/null 2>&1 && [[ ! " ${missing[*]} " =~ " nodejs " ]]; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (or with sudo) to install packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
if ! command -v npm >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends npm
fi
# The Debian package creates a default cluster we do not use; ferry's tests
# start their own throwaway clusters.
