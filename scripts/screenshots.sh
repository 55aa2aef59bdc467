#!/usr/bin/env bash
# Screenshots of the studio for README (docs/screenshots/): the embedded emoji model generating "rocket" in a
# sixel xterm and in a non-sixel xterm (half-block fallback). Needs ../shared/tools/term-shot (Xvfb, xterm, xdotool).
#
#   scripts/screenshots.sh [path/to/sumi]      (default: .build/release/sumi)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "$(dirname "${1:-.build/release/sumi}")" && pwd)/$(basename "${1:-.build/release/sumi}")
SHOT=${TERM_SHOT:-../shared/tools/term-shot}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for mode in sixel blocks; do
    flag=(); [ "$mode" = blocks ] && flag=(--no-sixel)
    "$SHOT" "${flag[@]}" --size 110x34 --face "DejaVu Sans Mono" --face-size 10 --wait 4 --type "rocket" --wait 0.5 --key ctrl+g --wait 25 \
        --out "docs/screenshots/studio-$mode.png" -- \
        env XDG_CONFIG_HOME="$WORK/config-$mode" XDG_CACHE_HOME="$WORK/cache" "$BIN" --output "$WORK/out-$mode" \
        --image-mode "$mode"
done
echo "wrote docs/screenshots/studio-sixel.png docs/screenshots/studio-blocks.png"
