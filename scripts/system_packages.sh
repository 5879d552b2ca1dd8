#!/usr/bin/env bash
# Install the Debian packages the tests and the operator's kit run against (idempotent, cheap when present).
#
# Each entry is "command-or-file:package". Only what is missing is installed; apt runs only then.
# Needs root (CI and these machines run as root); elsewhere it prints what to install and goes on,
# and the tests that need a missing program fail with a message naming it.
set -euo pipefail

wanted=(
  "/usr/bin/prometheus:prometheus"             # real Prometheus + promtool for the operator's-kit tests
  "/usr/lib/postgresql:postgresql"             # the shared store of the two-replica test
  "/usr/sbin/nginx:nginx"                      # load balancer in front of the two replicas
  "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4:libtcmalloc-minimal4"  # allocator icegrt serve preloads on CPU
)

missing=()
for entry in "${wanted[@]}"; do
  path="${entry%%:*}"; package="${entry##*:}"
  [ -e "$path" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "[setup] not root: install these Debian packages yourself: ${missing[*]}" >&2
  exit 0
fi
echo "[setup] installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# policy-rc.d keeps the packages' services from starting: the tests start their own instances.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
