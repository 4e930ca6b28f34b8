#!/bin/sh
# Build the libFuzzer harnesses in their own tree (clang, ASan+UBSan) and run
# each one for FUZZ_SECONDS (default 30). Exit 0 when none crashed, 1 when one
# did (its crash input is kept under the build tree), 77 when clang's fuzzer
# runtime is missing.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-30}
bdir=${FUZZ_BUILD_DIR:-$top/build-fuzz}

command -v clang >/dev/null 2>&1 || { echo "fuzz: clang not found: skip"; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' >/tmp/fz$$.c
if ! clang -fsanitize=fuzzer /tmp/fz$$.c -o /tmp/fz$$ 2>/dev/null; then
	rm -f /tmp/fz$$.c /tmp/fz$$
	echo "fuzz: clang has no libFuzzer runtime (libclang-rt-dev): skip"; exit 77
fi
rm -f /tmp/fz$$.c /tmp/fz$$

mkdir -p "$bdir"
cd "$bdir"
[ -f Makefile ] || CC=clang "$top/configure" --enable-fuzz >configure.out 2>&1 ||
	{ cat configure.out; exit 1; }
make -j2 fuzzers >make.out 2>&1 || { tail -30 make.out; exit 1; }

# A sanitizer report is a failure: UBSan alone would print and go on, and
# the run would pass (two reports went unnoticed that way).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

rc=0
for f in tests/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="$bdir/corpus/$name"
	mkdir -p "$corpus" "$bdir/crashes"
	# Committed seeds (tests/fuzz/corpus/NAME without "fuzz_") are read-only
	# extra inputs; new finds go to the build tree's corpus.
	seeds="$top/tests/fuzz/corpus/${name#fuzz_}"
	[ -d "$seeds" ] || seeds=
	echo "fuzz: $name for ${secs}s"
	if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$bdir/crashes/$name-" "$corpus" ${seeds:+"$seeds"} \
		>"$bdir/$name.log" 2>&1; then
		grep -E '^stat::number_of_executed_units' "$bdir/$name.log" | sed "s/^/fuzz: $name /"
	else
		echo "fuzz: $name FAILED (see $bdir/$name.log)"
		tail -40 "$bdir/$name.log"
		rc=1
	fi
done
exit $rc
