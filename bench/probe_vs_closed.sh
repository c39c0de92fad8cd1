#!/usr/bin/env bash
# probe_vs_closed.sh: a capacity probe against the throughput a closed loop
# reaches over the same connections, on the same PostgreSQL, and how long the
# probe takes to converge.
#
# A closed loop of N workers over a pool of N connections runs each call as
# soon as the last returned: its QPS is the most those connections serve,
# with latency whatever it becomes. A probe over the same pool finds the
# highest open-loop arrival rate that stays inside an SLO, so its capacity
# is at most about the closed loop's throughput, and below it by what the SLO
# costs (queueing under random arrivals). The ratio capacity ÷ closed-loop
# QPS says how much of the raw throughput is usable inside the SLO.
#
# Workload (both sides): the query QUERY over a pool of N connections
# (`conn: pooled`, `pool_size: N`). The default, SELECT pg_sleep(0.005),
# has a known service time, so the closed loop's throughput is about
# N / 5 ms. Each side runs REPS times, alternating (ABBA), and the script
# prints every run, the medians and the ratio. It exits 0 whatever the ratio
# (a benchmark, not a test) and non-zero only when something failed.
#
# Settings (environment):
#   CLIENTS=4          connections (pool size) and closed-loop workers
#   QUERY='SELECT pg_sleep(0.005)'
#   P99=50ms           the probe's SLO: p99 bound (error_ratio 0.001 as well)
#   ARRIVALS=poisson   the probe's arrivals: poisson or periodic
#   STEP=5s            each probe step, warm-up included; also the closed
#                      loop's duration
#   WARMUP=1s          each step's warm-up (and the closed loop's)
#   START=50/s CEILING=20000/s PRECISION=0.05
#   REPS=3             runs per side
#   DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   PBENCHD=           a pbenchd binary (default: a fresh go build in a temp dir)
#   KEEP=0             1: keep the temp directory (config, results)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

CLIENTS=${CLIENTS:-4}
QUERY=${QUERY:-SELECT pg_sleep(0.005)}
P99=${P99:-50ms}
ARRIVALS=${ARRIVALS:-poisson}
STEP=${STEP:-5s}
WARMUP=${WARMUP:-1s}
START=${START:-50/s}
CEILING=${CEILING:-20000/s}
PRECISION=${PRECISION:-0.05}
REPS=${REPS:-3}
DSN=${DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
PBENCHD=${PBENCHD:-}
KEEP=${KEEP:-0}

die() {
  echo "probe_vs_closed: $*" >&2
  exit 1
}
log() { echo "probe_vs_closed: $*" >&2; }

[[ $CLIENTS =~ ^[0-9]+$ ]] && [ "$CLIENTS" -ge 1 ] || die "CLIENTS=$CLIENTS is not a whole number ≥ 1"
[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 1 ] || die "REPS=$REPS is not a whole number ≥ 1"
case "$ARRIVALS" in poisson | periodic) ;; *) die "ARRIVALS=$ARRIVALS is not poisson or periodic" ;; esac
command -v jq >/dev/null 2>&1 || die "jq is not installed (apt-get install jq)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/probe_vs_closed.XXXXXX")
cleanup() { if [ "$KEEP" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

if [ -z "$PBENCHD" ]; then
  command -v go >/dev/null 2>&1 || die "go is not installed; set PBENCHD=/path/to/pbenchd"
  log "building pbenchd"
  (cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/pbenchd" ./cmd/pbenchd) || die "go build failed"
  PBENCHD=$tmp/pbenchd
fi

# One config, two scenarios over the same pool size and query.
cat >"$tmp/bench.yaml" <<EOF
targets:
  bench: { kind: postgres, dsn: "$DSN" }
scenarios:
  - name: bench_closed
    target: bench
    phases:
      - load:
          duration: $STEP
          warmup: $WARMUP
          actions:
            - name: q
              closed: { concurrency: $CLIENTS }
              sql: { query: "$QUERY", conn: pooled, pool_size: $CLIENTS }
  - name: bench_probe
    target: bench
    phases:
      - probe:
          start: $START
          ceiling: $CEILING
          precision: $PRECISION
          arrivals: $ARRIVALS
          step: $STEP
          warmup: $WARMUP
          slo: { p99: $P99, error_ratio: 0.001 }
          action:
            name: q
            sql: { query: "$QUERY", conn: pooled, pool_size: $CLIENTS }
EOF
"$PBENCHD" check --config "$tmp/bench.yaml" --scenarios bench_closed,bench_probe >"$tmp/check.txt" 2>&1 || {
  cat "$tmp/check.txt" >&2
  die "pbenchd check refused the generated config"
}

run() { # run SIDE REP: prints one line "side value seconds steps"
  local side=$1 rep=$2 out=$tmp/$1.$2.json t0 t1
  t0=$(date +%s.%N)
  "$PBENCHD" once --config "$tmp/bench.yaml" --scenarios "bench_$side" --web.listen-address 127.0.0.1:0 \
    --results "$out" >"$tmp/$side.$rep.log" 2>&1 || true
  t1=$(date +%s.%N)
  [ -s "$out" ] || {
    tail -20 "$tmp/$side.$rep.log" >&2
    die "$side run $rep wrote no results"
  }
  if [ "$side" = closed ]; then
    jq -r --arg s "$(echo "$t1 - $t0" | bc)" '.results.bench_closed | "closed \(.actions[0].qps) \($s) 1"' "$out"
  else
    jq -r --arg s "$(echo "$t1 - $t0" | bc)" '.results.bench_probe.probes[0] | "probe \(.capacity_qps) \($s) \(.steps | length) \(.reason)"' "$out"
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

log "$CLIENTS connections over $DSN, query: $QUERY; probe SLO p99 ≤ $P99, $ARRIVALS arrivals, $STEP steps"
: >"$tmp/runs"
for rep in $(seq 1 "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="closed probe"; else order="probe closed"; fi
  for side in $order; do
    line=$(run "$side" "$rep")
    echo "$line" | tee -a "$tmp/runs"
  done
done
closed=$(awk '$1 == "closed" {print $2}' "$tmp/runs" | median)
capacity=$(awk '$1 == "probe" {print $2}' "$tmp/runs" | median)
secs=$(awk '$1 == "probe" {print $3}' "$tmp/runs" | median)
steps=$(awk '$1 == "probe" {print $4}' "$tmp/runs" | median)
printf 'closed loop QPS (median)   %.1f\n' "$closed"
printf 'probe capacity (median)    %.1f\n' "$capacity"
printf 'capacity / closed loop     %.3f\n' "$(echo "$capacity / $closed" | bc -l)"
printf 'probe run time (median)    %.1f s in %s steps\n' "$secs" "$steps"
