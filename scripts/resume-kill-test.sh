#!/usr/bin/env bash
# Resume-after-SIGKILL test for `sumi train` (issue 7): exits non-zero on any mismatch.
#
# 1. A tiny from-scratch run (the tiny SDXL architecture on a generated dataset) trains N steps straight.
# 2. The same run is killed with SIGKILL once it has checkpointed step >= N/2, resumed with --resume and finished:
#    its final weights and optimizer state must be byte-identical to the straight run's.
# 3. A loop of SIGKILLs at random moments (during steps, checkpoint writes, start-up): after every kill the
#    `latest` checkpoint must still load (each restart resumes from it; a refusal fails the test), and the run,
#    finally finished, must again match the straight run byte for byte.
#
# Uses $SUMI if set, else builds and uses .build/release/sumi. About a minute on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SUMI:-}" ]]; then
    swift build -c release --product sumi >&2
    SUMI=.build/release/sumi
fi
N=${N:-40}
KILLS=${KILLS:-12}
THREADS=${THREADS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sumi-resume-kill.XXXXXX")
fail() { echo "resume-kill-test: FAIL: $*" >&2; tail -5 "$WORK/log" >&2 || true; exit 1; }   # keeps $WORK

PATTERN=$("$SUMI" train --make-test-dataset "$WORK/data")
cat > "$WORK/config.toml" <<TOML
[model]
architecture = "tiny"
tokenizer = "$PWD/models/tokenizer/clip-merges.txt"
[data]
shards = "$PATTERN"
resolution = 32
bucket_step = 16
batch_size = 2
shuffle_buffer = 8
[train]
steps = $N
caption_dropout = 0.2
[optimizer]
type = "adamw8bit"
lr = 1e-3
[schedule]
warmup_steps = 4
decay = "cosine"
[output]
checkpoint_every = 1
keep_checkpoints = 2
TOML

train() { "$SUMI" train --config "$WORK/config.toml" --threads "$THREADS" "$@" 2>>"$WORK/log"; }
latest_step() { local f="$1/checkpoints/latest"; [[ -f "$f" ]] && sed 's/step-0*//; s/^$/0/' "$f" || echo -1; }
same() {   # same RUN_A RUN_B: final checkpoints identical
    local a="$1/checkpoints/$(printf 'step-%08d' "$N")" b="$2/checkpoints/$(printf 'step-%08d' "$N")"
    for f in weights.safetensors optimizer.safetensors; do
        [[ -f "$a/$f" && -f "$b/$f" ]] || fail "missing $f in $a or $b"
        cmp -s "$a/$f" "$b/$f" || fail "$b/$f differs from the straight run's"
    done
}

echo "resume-kill-test: straight run of $N steps" >&2
train --output "$WORK/straight" >/dev/null || fail "straight run failed (see $WORK/log)"

echo "resume-kill-test: kill at step >= $((N / 2)), resume" >&2
"$SUMI" train --config "$WORK/config.toml" --threads "$THREADS" --output "$WORK/half" >/dev/null 2>>"$WORK/log" &
pid=$!   # sumi itself, not a subshell: SIGKILL must hit the trainer
while kill -0 "$pid" 2>/dev/null && (( $(latest_step "$WORK/half") < N / 2 )); do sleep 0.02; done
kill -9 "$pid" 2>/dev/null || fail "the run finished before it could be killed (raise N)"
wait "$pid" 2>/dev/null || true
echo "  killed after step $(latest_step "$WORK/half")" >&2
train --output "$WORK/half" --resume >/dev/null || fail "resume after SIGKILL failed (see $WORK/log)"
same "$WORK/straight" "$WORK/half"

echo "resume-kill-test: $KILLS kills at random moments" >&2
run="$WORK/killed"
for ((i = 1; i <= KILLS; i++)); do
    args=(--output "$run")
    [[ -f "$run/checkpoints/latest" ]] && args+=(--resume)
    "$SUMI" train --config "$WORK/config.toml" --threads "$THREADS" "${args[@]}" >/dev/null 2>>"$WORK/log" &
    pid=$!
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.3f", 0.05 + rand() * 0.6 }')"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
    else
        wait "$pid" || fail "restart $i exited with an error instead of resuming (see $WORK/log)"
    fi
    echo "  kill $i: latest = step $(latest_step "$run")" >&2
done
args=(--output "$run")
[[ -f "$run/checkpoints/latest" ]] && args+=(--resume)
train "${args[@]}" >/dev/null || fail "final resume failed (see $WORK/log)"
same "$WORK/straight" "$run"
rm -rf "$WORK"
echo "resume-kill-test: OK (straight = killed-and-resumed, $KILLS random kills, every checkpoint readable)" >&2
