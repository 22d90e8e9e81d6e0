#!/usr/bin/env bash
# Installs what tests/vps/vps needs on a Debian 12 machine. Safe to run again: it only
# calls apt-get when a tool is missing.
set -euo pipefail

usage() {
    echo "usage: tests/vps/ci-setup.sh   (as root, on Debian 12)"
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") ;;
*) usage >&2; exit 2 ;;
esac

[[ $EUID -eq 0 ]] || {
    echo "ci-setup: error: must run as root (it installs packages)" >&2
    exit 1
}
command -v apt-get >/dev/null || {
    echo "ci-setup: error: apt-get not found; this script knows Debian only" >&2
    exit 1
}

# Each package with the command that shows it is there.
declare -A needs=(
    [debootstrap]=debootstrap
    [systemd-container]=systemd-nspawn
    [openssh-client]=ssh
    [iproute2]=ss
    [util-linux]=flock
)

missing=()
for package in "${!needs[@]}"; do
    command -v "${needs[$package]}" >/dev/null || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    echo "ci-setup: everything tests/vps/vps needs is installed"
    exit 0
fi

echo "ci-setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
