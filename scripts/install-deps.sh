#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing keybroker need.
# Idempotent: packages already present are not fetched again. Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev openssl libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libcpprest-dev libgtest-dev libgmock-dev python3 python3-grpcio python3-protobuf
  python3-cryptography python3-yaml librdkafka-dev libsqlite3-dev
  prometheus-cpp-dev libcivetweb-dev prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm for tests/azure_sdk_js (the Azure SDK for JavaScript; the pinned packages
# need Node.js >= 20, which that test checks). Asked for by command, not by package: a node
# that is already there (NodeSource's nodejs bundles npm) stays, and Debian's npm package
# would conflict with it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
