#!/usr/bin/env bash
# Exercise 2 at the official data's size, for time and memory only: the 8,000 official file
# names, each a copy of a real wav of the same label (python -m tools.fullsize), through each
# script with the course's split; writes docs/results/FULLSIZE.txt. Needs GNU time
# (/usr/bin/time) and ../shared/data (or set FILES and WAVS).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
FILES=${FILES:-../shared/data/mini_speech_commands_files.txt}
WAVS=${WAVS:-../shared/data/mini_speech_commands}
DATA=${DATA:-/tmp/SYNTHETIC_mini_speech_commands}
MODELS=${MODELS:-/tmp/fullsize_models}
OUT=docs/results/FULLSIZE.txt
[ -d "$DATA" ] || $PY -m tools.fullsize --kws-out "$DATA" --files "$FILES" --wavs "$WAVS"
log=$(mktemp -d)
{
  echo "Full-size rehearsal of exercise 2 (timing and memory only: the wavs are copies of a partial copy of the data, so test files repeat training files and no accuracy here is a test accuracy)."
  echo "Data: python -m tools.fullsize --kws-out $DATA --files $FILES --wavs $WAVS"
  echo "Machine: $($PY -c 'from common.runtime import host; print(host())'); date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  for v in a b c; do
    echo
    echo "== python ex2_$v.py --data $DATA --out-dir $MODELS --quiet   (under /usr/bin/time -v)"
    status=0
    /usr/bin/time -v $PY ex2_$v.py --data "$DATA" --out-dir "$MODELS" --quiet > "$log/$v.out" 2> "$log/$v.err" || status=$?
    echo "exit status: $status"
    grep -E "^  => |^wrote" "$log/$v.out" || true
    grep -E "Elapsed \(wall clock\)|Maximum resident set size|User time|System time|Percent of CPU" "$log/$v.err"
  done
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
rm -r "$log"
echo "wrote $OUT"
