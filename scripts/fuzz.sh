#!/usr/bin/env bash
# make fuzz: every target of gateway_fuzz::TARGETS under libFuzzer (cargo-fuzz, with
# AddressSanitizer) for FUZZ_SECONDS each (default 60), growing its corpus under
# fuzz/corpus/<target>/. An input that crashes is copied there too, so the replay test of
# `make test` (crates/gateway-fuzz/tests/corpus.rs) keeps it as a regression test; the run
# then fails, naming it.
#
# The machine's one toolchain is stable: RUSTC_BOOTSTRAP lets it take the sanitizer flags
# cargo-fuzz passes (the sanitizer runtimes ship with the stable rust-std).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
secs="${FUZZ_SECONDS:-60}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io (once)"
    cargo install cargo-fuzz --locked -q || { echo "fuzz: cargo-fuzz could not be installed"; exit 1; }
fi
export RUSTC_BOOTSTRAP=1
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^gateway-fuzz-targets$')
echo "fuzz: building the targets (release, AddressSanitizer)"
cargo fuzz build --fuzz-dir fuzz || { echo "fuzz: the targets do not build"; exit 1; }
status=0
for t in $targets; do
    echo "fuzz: $t for ${secs}s"
    # New inputs go to a working corpus under target/; the kept one (seeds and regressions,
    # replayed by make test) is read, not grown.
    mkdir -p "fuzz/corpus/$t" "target/fuzz-corpus/$t" "target/fuzz-artifacts/$t"
    if ! cargo fuzz run --fuzz-dir fuzz "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="target/fuzz-artifacts/$t/" -print_final_stats=1 >"target/fuzz-artifacts/$t.log" 2>&1; then
        tail -n 40 "target/fuzz-artifacts/$t.log"
        status=1
    else
        grep -E '^(Done|stat::(number_of_executed_units|peak_rss_mb))' "target/fuzz-artifacts/$t.log"
    fi
    for crash in target/fuzz-artifacts/"$t"/*; do
        [ -f "$crash" ] || continue
        cp "$crash" "fuzz/corpus/$t/regression-$(basename "$crash")"
        echo "fuzz: $t: $(basename "$crash") kept as fuzz/corpus/$t/regression-$(basename "$crash")"
        status=1
    done
done
exit $status
