#!/usr/bin/env bash
# End-to-end test of the studio: drives the real release binary in tmux on the tiny fixture model.
# Types a prompt, adds a LoRA through the picker, starts a generation, moves the LoRA slider (which re-renders with
# the same seed), checks progress, the finished state and the saved PNGs in the screen text, quits, and checks the
# terminal was restored. A second launch checks that settings persist and that a broken theme is reported.
#
#   scripts/studio-e2e.sh [path/to/sumi]        (default: .build/release/sumi; SUMI_BIN also works)
#
# Needs tmux. Exits non-zero on the first failed check, printing the screen.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${SUMI_BIN:-.build/release/sumi}}
MODEL=Tests/DiffusionTests/Fixtures/pipeline/tiny_sdxl.safetensors
LORA=Tests/DiffusionTests/Fixtures/lora/tiny_sdxl_style.safetensors
[ -x "$BIN" ] || { echo "studio-e2e: $BIN not found (build with: swift build -c release --product sumi)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "studio-e2e: tmux is not installed" >&2; exit 2; }

WORK=$(mktemp -d)
SOCK="sumi-e2e-$$"
T=(tmux -L "$SOCK" -f /dev/null)
cleanup() { "${T[@]}" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# Private config and cache homes (the user's settings are neither read nor changed) and a LoRA folder.
mkdir -p "$WORK/config" "$WORK/cache" "$WORK/loras" "$WORK/out"
cp "$LORA" "$WORK/loras/tiny-style.safetensors"
BIN_ABS=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

screen() { "${T[@]}" capture-pane -t studio -p; }
fail() {
    echo "studio-e2e: FAIL: $*" >&2
    echo "----- screen -----" >&2
    screen >&2 || true
    echo "------------------" >&2
    exit 1
}
pass() { echo "studio-e2e: ok: $*"; }
# wait_for TEXT [SECONDS]: poll the screen until it contains TEXT (fixed string).
wait_for() {
    local deadline=$((SECONDS + ${2:-30}))
    while ((SECONDS < deadline)); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    fail "timed out waiting for '$1'"
}
keys() { "${T[@]}" send-keys -t studio "$@"; }
type_text() { "${T[@]}" send-keys -t studio -l -- "$1"; }
launch() {
    "${T[@]}" new-session -d -s studio -x 120 -y 36 \
        "cd '$PWD' && env XDG_CONFIG_HOME='$WORK/config' XDG_CACHE_HOME='$WORK/cache' ESCDELAY=25 '$BIN_ABS' --model '$MODEL' \
         --architecture tiny --lora-dir '$WORK/loras' --output '$WORK/out' --image-mode blocks $*; echo \$? > '$WORK/exit'; sleep 60"
    "${T[@]}" set -s escape-time 0
    "${T[@]}" set -g status off
}

# --- first session -----------------------------------------------------------------------------------------------
launch
wait_for "tiny_sdxl" 60
wait_for "model tiny_sdxl ready" 60
pass "studio started and loaded the tiny model"

type_text "a red fox, (sunset:1.2)"
wait_for "a red fox, (sunset:1.2)"
wait_for "L 5/75 G 5/75"
pass "prompt typed, token counts shown"

# More steps so the run is long enough to watch: sampler pane, steps field, typed value.
keys Tab Tab Tab                     # prompt → negative → LoRA → sampler
wait_for "preset    ‹"
keys Down Down Down                  # preset → sampler → scheduler → steps
keys Enter C-u
type_text "150"
keys Enter
wait_for "steps     150"
pass "steps typed in the sampler pane"

# Add the LoRA through the picker.
keys BTab                            # back to the LoRA pane
keys a
wait_for "Add LoRA"
deadline=$((SECONDS + 10))
until screen | grep -qF "tiny-style"; do
    ((SECONDS < deadline)) || fail "the picker does not list tiny-style.safetensors"
    keys Enter; sleep 0.3            # several roots: open the first one
done
type_text "tiny"
keys Enter
wait_for "396✓ 3✗" 30
pass "LoRA added through the picker, key badge 396✓ 3✗ shown"

# Generate, watch progress, wait for the finished state.
keys C-g
seen_progress=0
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
    s=$(screen)
    if grep -qE "sampling [0-9]+/150" <<<"$s" && grep -qF "it/s" <<<"$s"; then seen_progress=1; fi
    grep -qF "done · 1 image" <<<"$s" && break
    sleep 0.05
done
screen | grep -qF "done · 1 image" || fail "the generation did not finish"
((seen_progress)) || fail "no progress bar (sampling N/150 … it/s) seen while generating"
wait_for "00001-"
pass "generation ran with a progress bar and finished; image saved"
first=$(ls "$WORK/out")
[ "$(echo "$first" | wc -l)" -eq 1 ] || fail "expected one image in the output folder, found: $first"
seed=${first#00001-}; seed=${seed%.png}

# Move the LoRA slider: after the debounce the same seed is rendered again.
keys l l l
wait_for "+1.15"
wait_for "00002-$seed.png" 120
wait_for "done · 1 image" 120
pass "slider move re-rendered with the same seed ($seed)"
[ -f "$WORK/out/00002-$seed.png" ] || fail "00002-$seed.png was not written"
grep -q "tiny-style" "$WORK/out/00002-$seed.png" || fail "the PNG metadata does not name the LoRA"

# Help overlay, then quit.
keys F1
wait_for "strength +0.25"             # the help lists the focused pane's keys
keys Escape; sleep 0.3               # (a key within ESCDELAY of Escape would read as alt+key)
keys C-q
deadline=$((SECONDS + 15))
until [ -s "$WORK/exit" ]; do ((SECONDS < deadline)) || fail "the studio did not quit"; sleep 0.1; done
[ "$(cat "$WORK/exit")" = 0 ] || fail "exit status $(cat "$WORK/exit")"
flags=$("${T[@]}" display -p -t studio '#{alternate_on} #{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag} #{cursor_flag}')
[ "$flags" = "0 0000 1" ] || fail "terminal not restored (alternate screen, mouse modes, cursor: '$flags', want '0 0000 1')"
screen | grep -qF "Sampler" && fail "the studio's screen is still shown after exit"
pass "quit cleanly (exit 0), terminal restored"

settings="$WORK/config/sumi/studio.toml"
[ -f "$settings" ] || fail "no settings file at $settings"
grep -qF 'a red fox' "$settings" || fail "the prompt was not saved in $settings"
grep -qF 'tiny-style.safetensors' "$settings" || fail "the LoRA stack was not saved in $settings"
"${T[@]}" kill-session -t studio

# --- second session: settings come back; a broken theme is reported and the default is used ------------------------
printf 'name = "bad"\n[colors]\naccent = "red"\n' > "$WORK/bad.toml"
rm -f "$WORK/exit"
launch --theme "'$WORK/bad.toml'"
wait_for "key 'colors.accent'" 30
wait_for "a red fox, (sunset:1.2)" 30
wait_for "+1.15" 30
pass "settings restored; broken theme reported with file, line and key"
keys C-c C-c
deadline=$((SECONDS + 15))
until [ -s "$WORK/exit" ]; do ((SECONDS < deadline)) || fail "ctrl+c twice did not quit"; sleep 0.1; done
[ "$(cat "$WORK/exit")" = 0 ] || fail "exit status $(cat "$WORK/exit") after ctrl+c twice"
pass "ctrl+c twice quits"
echo "studio-e2e: all checks passed"
