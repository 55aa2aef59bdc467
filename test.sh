#!/usr/bin/env bash
# Sets up what is missing and runs every test in release mode (numeric kernels are 10-100x slower in debug):
# the XCTest suites, then the end-to-end scripts that drive the real binary (SIGKILL/resume of `sumi train`,
# the studio in tmux). Arguments go to `swift test` (e.g. --filter X); with arguments the scripts are skipped.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
SUMI_APT_PACKAGES+=(tmux)
sumi_ensure_deps
swift build -c release --product sumi
swift test -c release "$@"
if [ "$#" -eq 0 ]; then
    SUMI=.build/release/sumi bash scripts/resume-kill-test.sh
    bash scripts/studio-e2e.sh .build/release/sumi
fi
