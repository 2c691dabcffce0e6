#!/usr/bin/env bash
# prometheus and promtool from Debian's `prometheus` package, for the alert-rule tests
# (promtool check/test rules) and the dashboard test (a real Prometheus scraping Triton).
# Idempotent. The tests start Prometheus themselves, so the package's service must not run:
# a policy-rc.d that refuses every start keeps invoke-rc.d and deb-systemd-invoke from
# starting it during the install, and is removed afterwards.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
    exit 0
fi
sudo=""
if [[ $(id -u) != 0 ]]; then
    sudo=sudo
fi
policy=/usr/sbin/policy-rc.d
placed=""
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    placed=1
fi
cleanup() { if [[ -n $placed ]]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
promtool --version 2>&1 | head -1
