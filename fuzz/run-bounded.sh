#!/bin/sh
# Bounded fuzz run of every iso20022 fuzz target: SECONDS each (default 60), seeded with the
# real sample corpus. Needs a nightly toolchain and `cargo install cargo-fuzz`. Exits non-zero
# on the first crash; the input is left in fuzz/artifacts/<target>/.
set -eu
cd "$(dirname "$0")"
secs="${1:-60}"
for t in decode_any decoders envelope pain001_stream differential; do
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run "$t" "corpus/$t" ../schemas/iso20022/samples/*/ -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024
done
