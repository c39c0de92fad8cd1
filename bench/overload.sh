#!/usr/bin/env bash
# overload.sh: pbenchd's own cost under overload. An open loop offers
# RATE/s (10,000) for DURATION (10 minutes) to a target that serves about
# 100/s: a pool of 2 connections over SELECT pg_sleep(0.02). Every arrival
# beyond the cap of calls in flight is dropped and counted, so memory must
# stay bounded however long the overload lasts.
#
# It prints, every STEP seconds, pbenchd's resident memory, goroutines and
# calls in flight (from its own /metrics), from a 10s baseline before the
# phase (a setup step that sleeps) until AFTER seconds after it, then the
# peak and the figures after the phase against the baseline. It exits 0
# whatever the figures (a benchmark, not a test), non-zero if something
# failed.
#
# Settings (environment):
#   RATE=10000/s  DURATION=600s  AFTER=60  STEP=5
#   DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   PBENCHD=      a pbenchd binary (default: a fresh go build in a temp dir)
set -euo pipefail
RATE=${RATE:-10000/s}
DURATION=${DURATION:-600s}
AFTER=${AFTER:-60}
STEP=${STEP:-5}
DSN=${DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
bin=${PBENCHD:-}
if [ -z "$bin" ]; then
	(cd "$here" && go build -o "$tmp/pbenchd" ./cmd/pbenchd)
	bin=$tmp/pbenchd
fi
secs=${DURATION%s}
cat >"$tmp/overload.yaml" <<YAML
targets:
  pg: { kind: postgres, dsn: "$DSN" }
run:
  scenarios: [overload]
  pause: 1h
scenarios:
  - name: overload
    target: pg
    setup:
      - sql: SELECT pg_sleep(10)
    phases:
      - load:
          duration: $DURATION
          warmup: 0s
          actions:
            - name: sleep
              open: { rate: $RATE, arrivals: periodic }
              sql: { query: SELECT pg_sleep(0.02), conn: pooled, pool_size: 2 }
YAML
"$bin" run --config "$tmp/overload.yaml" --web.listen-address 127.0.0.1:0 2>"$tmp/log" &
pid=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/.*msg="pbenchd started".*listen=\([^ ]*\).*/\1/p' "$tmp/log")
	[ -n "$addr" ] && break
	sleep 0.1
done
[ -n "$addr" ] || { cat "$tmp/log"; echo "pbenchd did not start" >&2; exit 1; }
metric() { awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 } END { printf "%.0f", s }' "$tmp/m"; }
printf '%6s %8s %10s %9s %s\n' t rss_MiB goroutines inflight phase
end=$((10 + secs + AFTER))
base_rss=; base_g=; peak_rss=0; peak_g=0; t0=$(date +%s)
while :; do
	t=$(($(date +%s) - t0))
	[ "$t" -gt "$end" ] && break
	curl -sf "http://$addr/metrics" >"$tmp/m" || { echo "scrape failed" >&2; exit 1; }
	rss=$(metric process_resident_memory_bytes); g=$(metric go_goroutines)
	inf=$(metric pbenchd_action_inflight); act=$(metric pbenchd_phase_active)
	mib=$(awk -v b="$rss" 'BEGIN { printf "%.1f", b / 1048576 }')
	printf '%6d %8s %10d %9d %s\n' "$t" "$mib" "$g" "$inf" "$act"
	if [ "$t" -lt 9 ]; then base_rss=$rss; base_g=$g; fi
	[ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
	[ "$g" -gt "$peak_g" ] && peak_g=$g
	last_rss=$rss; last_g=$g
	sleep "$STEP"
done
curl -sf "http://$addr/metrics" >"$tmp/m"
calls=$(metric pbenchd_result_calls); dropped=$(metric pbenchd_result_dropped)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "offered $RATE for $DURATION to a pool of 2 over pg_sleep(0.02)"
echo "calls $calls, dropped $dropped (last iteration)"
echo "baseline: rss $(mb "$base_rss"), $base_g goroutines"
echo "peak:     rss $(mb "$peak_rss"), $peak_g goroutines"
echo "${AFTER}s after the phase: rss $(mb "$last_rss"), $last_g goroutines"
grep -E 'level=(ERROR|WARN)' "$tmp/log" | head -5 || true
