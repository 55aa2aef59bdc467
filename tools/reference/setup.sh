#!/usr/bin/env bash
# Creates the reference venv outside the repo (default ../sumi-venv) with the pinned packages.
# Usage: tools/reference/setup.sh [VENV_DIR]; then VENV_DIR/bin/python tools/reference/make_op_fixtures.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/../../../sumi-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
echo "reference venv ready: $venv"
