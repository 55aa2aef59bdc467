#!/usr/bin/env bash
# Sets up what is missing, builds Sumi in release mode and runs it (extra arguments go to `sumi`).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
sumi_ensure_deps
swift build -c release --product sumi >&2
exec .build/release/sumi "$@"
