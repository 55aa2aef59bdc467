#!/usr/bin/env bash
# Sets up what is missing and runs every test in release mode (numeric kernels are 10-100x slower in debug).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
sumi_ensure_deps
swift build -c release --product sumi
swift test -c release "$@"
