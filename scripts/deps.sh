#!/usr/bin/env bash
# Checks (and, as root, installs) the Debian packages and toolchain Sumi needs.
# Sourced by ./sumi.sh and ./test.sh. Exits non-zero with the exact command to run when it cannot install.
set -euo pipefail

SUMI_APT_PACKAGES=(libncurses-dev libopenblas-dev libpng-dev libsixel-dev libjpeg-dev pkg-config)

sumi_missing_packages() {
    local missing=()
    for p in "${SUMI_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

sumi_ensure_deps() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"
        else echo "sumi: Swift 6 toolchain not found (swift is not on PATH); install it from swift.org first." >&2; exit 1; fi
    fi
    local missing; missing="$(sumi_missing_packages)"
    if [ -n "$missing" ]; then
        if [ "$(id -u)" = "0" ]; then
            echo "sumi: installing $missing" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >/dev/null
            # shellcheck disable=SC2086
            apt-get install -y -qq $missing >/dev/null
        else
            echo "sumi: missing packages. Run:  sudo apt-get update && sudo apt-get install -y $missing" >&2
            exit 1
        fi
    fi
}
