#!/usr/bin/env bash
# The native core under AddressSanitizer + UBSan: its unit-test drivers, then
# each libFuzzer target for a short run over a corpus of real and generated
# perf.data files. Any sanitizer report fails the stage.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${KVMLENS_FUZZ_SECONDS:-45}
out=${KVMLENS_SANITIZE_DIR:-$PWD/build-sanitize}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

cmake -S native -B "$out" -DCMAKE_CXX_COMPILER=clang++ -DKVMLENS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$out" -j "$(nproc)" >/dev/null

corpus="$out/corpus"
rm -rf "$corpus" && mkdir -p "$corpus"
find test/fixtures -name '*.data' -size -2M -exec cp {} "$corpus/" \; 2>/dev/null || true
if command -v perf >/dev/null && [ -d /sys/kernel/tracing/events/kvm ]; then
  perf kvm stat record -a -o "$corpus/kvm-empty.data" -- sleep 0.2 >/dev/null 2>&1 || true
  perf record -q -e sched:sched_switch -a -o "$corpus/sched.data" -- sleep 0.2 >/dev/null 2>&1 || true
  perf record -q -e cpu-clock -o "$corpus/cpu-clock.data" -- ls -R /usr/share/doc >/dev/null 2>&1 || true
fi
export KVMLENS_CORPUS="$corpus"

for t in "$out"/*_test; do
  [ -x "$t" ] || continue
  echo "sanitized: $(basename "$t")"
  "$t"
done
for f in "$out"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  echo "fuzzing: $name for ${fuzz_seconds}s"
  mkdir -p "$out/findings"
  # Each target grows its own copy of the seeds: libFuzzer adds what it finds
  # to the first corpus directory, and another target's tens of MB of finds
  # would make the next one spend its time re-reading them.
  rm -rf "$out/corpus-$name" && mkdir -p "$out/corpus-$name"
  if [ "$name" = fuzz_tracing_data ]; then
    # It parses the tracing section alone: seed it with those sections.
    node scripts/tracing-seeds.mjs "$out/corpus-$name" "$corpus"/*
  else
    cp "$corpus"/* "$out/corpus-$name/"
  fi
  "$f" -max_total_time="$fuzz_seconds" -artifact_prefix="$out/findings/" -print_final_stats=0 "$out/corpus-$name" 2>&1 | tail -3
done
echo "sanitizers and fuzzers: clean"
