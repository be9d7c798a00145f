#!/usr/bin/env bash
# Builds the libFuzzer targets (Swift's -sanitize=fuzzer,address) and fuzzes each from its
# committed seed corpus.
#
#   Tests/Fuzz/fuzz.sh                      every target for 60 s
#   Tests/Fuzz/fuzz.sh --seconds 600 controller
#   Tests/Fuzz/fuzz.sh --runs 10000000 envelope topology-yaml
#
# New inputs that reach new code go to .build-fuzz/corpus/TARGET (the committed corpus is only
# read); a crash leaves its input in .build-fuzz/crashes/ and fails the script. Replay one with
#   swift run junction-fuzz TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=60
runs=""
targets=()
while (($#)); do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(envelope topology-yaml graphml traces controller)
((${#targets[@]})) || targets=("${all[@]}")

scratch=.build-fuzz
build() {
    # Optimized, as libFuzzer builds usually are: the controller target runs about 2.6 times as
    # many inputs a second as in a debug build, the YAML reader 1.25 times. Swift's preconditions
    # stay on in release builds.
    # SwiftPM passes each sanitizer as its own -sanitize= flag, in no fixed order, and the Swift
    # driver keeps only the last: the one combined flag after them gives the Swift code both
    # (SwiftPM's own flags still instrument the C code and link the runtimes).
    swift build -c release --scratch-path "$scratch" --product junction-fuzz \
        --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld
}
# The coverage counters libFuzzer finds in the binary: without them it fuzzes blind.
counters() {
    local found
    found=$(JUNCTION_FUZZ_TARGET=envelope "$binary" -runs=0 2>&1 | sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' | head -1 || true)
    echo "${found:-0}"
}
echo "== building junction-fuzz with libFuzzer and AddressSanitizer (first build takes minutes)"
build
binary="$scratch/release/junction-fuzz"
# Leaks are not what this looks for (FoundationXML leaks on its own error path), crashes are.
# Options from the caller come after, so a long campaign can add malloc_context_size=0: the
# YAML and GraphML readers then run about a fifth faster, and their reports lose allocation stacks
# (replaying a saved input gives them back).
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# A build from before the combined flag lacks the counters: then build afresh.
if (( $(counters) < 20000 )); then
    echo "== only $(counters) coverage counters: rebuilding the fuzzing build from scratch"
    rm -rf "$scratch/x86_64-unknown-linux-gnu"
    build
    found=$(counters)
    (( found >= 20000 )) || { echo "fuzz.sh: the build has only $found coverage counters; libFuzzer would fuzz blind" >&2; exit 1; }
fi
echo "   $(counters) coverage counters"

# Inputs longer than this find nothing the shorter ones do not and slow every run.
max_len() {
    case "$1" in
        controller|graphml) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

failed=()
mkdir -p "$scratch/crashes"
for target in "${targets[@]}"; do
    [[ -d Tests/Fuzz/Corpus/$target ]] || { echo "fuzz.sh: no target '$target' (targets: ${all[*]})" >&2; exit 2; }
    work="$scratch/corpus/$target"
    mkdir -p "$work"
    limit=(-max_total_time="$seconds")
    [[ -n "$runs" ]] && limit=(-runs="$runs")
    if [[ -n "$runs" ]]; then echo "== $target: $runs runs"; else echo "== $target: $seconds s"; fi
    log="$scratch/$target.log"
    if JUNCTION_FUZZ_TARGET="$target" "$binary" "${limit[@]}" -max_len="$(max_len "$target")" -timeout=30 \
        -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$scratch/crashes/$target-" \
        "$work" "Tests/Fuzz/Corpus/$target" >"$log" 2>&1; then
        executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        echo "   ${executions:-?} executions, ${speed:-?}/s, no crash (log: $log)"
    else
        echo "   CRASH or error; the end of $log:" >&2
        tail -30 "$log" >&2
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz.sh: failed: ${failed[*]}; inputs in $scratch/crashes/" >&2
    exit 1
fi
