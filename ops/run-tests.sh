#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with a Rust toolchain.
# Installs xmllint (libxml2-utils) if missing: tests validate every emitted message against
# the official ISO 20022 XSDs with it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v xmllint >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libxml2-utils
fi
cargo test --workspace --locked
