#!/usr/bin/env bash
# null_open.sh: the generator alone. An open loop of noop calls (they
# return at once) at RATE/s, periodic, on CPUS (taskset), REPS times:
# served arrivals per second, achieved-rate error against the schedule,
# generator lag (intended → handed to a worker) p50/p99/max, and the
# process's CPU per arrival. It runs loadgen's BenchmarkPaced, the
# scheduler, workers and recorder shards the engine's open loops use.
#
# A benchmark, not a test: it exits 0 whatever the figures.
#
# Settings (environment): RATE=100000 (20000 or 100000), ARRIVALS=1000000
# per run, CPUS=1 (a taskset CPU list), REPS=3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
RATE=${RATE:-100000}
ARRIVALS=${ARRIVALS:-1000000}
CPUS=${CPUS:-1}
REPS=${REPS:-3}
case "$RATE" in 20000 | 100000) ;; *) echo "null_open: RATE=$RATE is not 20000 or 100000" >&2; exit 1 ;; esac
command -v taskset >/dev/null || { echo "null_open: taskset is not installed (util-linux)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/null_open.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && go test -c -o "$tmp/loadgen.test" ./internal/loadgen/) || exit 1
echo "null_open: $RATE/s periodic, $ARRIVALS arrivals a run, taskset -c $CPUS, $REPS runs"
echo "  machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$REPS"); do
  taskset -c "$CPUS" "$tmp/loadgen.test" -test.run '^$' -test.bench "Paced/rate=$RATE\$" \
    -test.benchtime "${ARRIVALS}x" | awk -v rep="$rep" '/^BenchmarkPaced/ {
      for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
      printf "  run %d  served %.0f/s  rate error %.4f %%  dropped %d  lag p50 %.1f µs  p99 %.1f µs  max %.0f µs  cpu %.2f µs/arrival\n",
        rep, m["served/s"], m["rate-err-%"], m["dropped"], m["lag-p50-µs"], m["lag-p99-µs"], m["lag-max-µs"], m["cpu-µs/arrival"]
    }'
done
