#!/usr/bin/env bash
# Times pbenchd's TPC-H-shaped load (`pbenchd load`: rows generated in
# process, binary COPY over N connections, then primary keys, foreign keys
# and ANALYZE) against PostgreSQL's own COPY of the very same rows from CSV
# files written beforehand (N concurrent `psql \copy` streams, then the same
# keys and ANALYZE): the floor a loader can approach on this server.
#
#   bench/load_tpch.sh [SF] [WORKERS...]        defaults: 1  1 2 4
#
# Prints seconds, rows/s and the ratio pbenchd/COPY for each worker count
# (target: ≤ 1.1). PBENCHD_TEST_DSN picks the server (default: the local
# PostgreSQL, database test).
set -euo pipefail
SF=${1:-1}
shift || true
WORKERS=("${@:-1 2 4}")
read -r -a WORKERS <<<"${WORKERS[*]}"
DSN=${PBENCHD_TEST_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
TABLES="region nation supplier part partsupp customer orders lineitem"
MAXW=1
for w in "${WORKERS[@]}"; do ((w > MAXW)) && MAXW=$w; done

cd "$(dirname "$0")/.."
command -v psql >/dev/null || { echo "psql is missing: run scripts/deps.sh" >&2; exit 1; }
tmp=$(mktemp -d)
schemas=()
cleanup() {
  rm -rf "$tmp"
  for s in "${schemas[@]}"; do psql -X "$DSN" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

go build -o "$tmp/pbenchd" ./cmd/pbenchd
echo "SF $SF; server: $(psql -XAtc 'SHOW server_version' "$DSN"); $(nproc) cores"
echo "writing CSV files ($MAXW parts per table) ..."
go run ./bench/tpch_csv.go -sf "$SF" -parts "$MAXW" -out "$tmp"
ROWS=$(cat "$tmp"/*.csv | wc -l)
echo "$ROWS rows, $(du -sh "$tmp" | awk '{print $1}') of CSV"
echo

copy_load() { # workers → seconds
  local w=$1 s=pbenchd_bench_copy_$$_$1
  schemas+=("$s")
  local sql=(psql -X -q -v ON_ERROR_STOP=1 "$DSN")
  "${sql[@]}" -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $s CASCADE" -c "CREATE SCHEMA $s"
  PGOPTIONS="-c search_path=$s" "${sql[@]}" -f "$tmp/create.sql"
  local t0 t1
  t0=$(now)
  for ((stream = 0; stream < w; stream++)); do
    (for ((p = stream; p < MAXW; p += w)); do
      for t in $TABLES; do PGOPTIONS="-c search_path=$s" "${sql[@]}" -c "\\copy $t FROM '$tmp/$t.$p.csv' WITH (FORMAT csv)"; done
    done) &
  done
  wait
  PGOPTIONS="-c search_path=$s" "${sql[@]}" -f "$tmp/keys.sql" -f "$tmp/fks.sql" -c "ANALYZE ${TABLES// /, }"
  t1=$(now)
  secs "$t0" "$t1"
}

pbenchd_load() { # workers → seconds
  local w=$1 s=pbenchd_bench_load_$$_$1
  schemas+=("$s")
  cat >"$tmp/load_$w.yaml" <<EOF
targets: {pg: {kind: postgres, dsn: "$DSN"}}
log: {level: warn}
scenario_files: [scenario_$w.yaml]
EOF
  cat >"$tmp/scenario_$w.yaml" <<EOF
name: bench_load_$w
target: pg
setup:
  - tpch: {sf: $SF, workers: $w, schema: $s}
phases:
  - load: {duration: 1s, actions: [{name: noop, closed: {concurrency: 1}, sql: SELECT 1}]}
EOF
  local t0 t1
  t0=$(now)
  "$tmp/pbenchd" load --config "$tmp/load_$w.yaml" --scenario "bench_load_$w" </dev/null >/dev/null 2>"$tmp/load_$w.log" ||
    { cat "$tmp/load_$w.log" >&2; exit 1; }
  t1=$(now)
  secs "$t0" "$t1"
}

printf "%-8s %12s %14s %12s %14s %8s\n" workers "COPY s" "COPY rows/s" "pbenchd s" "pbenchd rows/s" ratio
for w in "${WORKERS[@]}"; do
  c=$(copy_load "$w")
  p=$(pbenchd_load "$w")
  awk -v w="$w" -v c="$c" -v p="$p" -v n="$ROWS" \
    'BEGIN { printf "%-8d %12.2f %14.0f %12.2f %14.0f %8.2f\n", w, c, n / c, p, n / p, p / c }'
done
