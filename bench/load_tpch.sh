#!/usr/bin/env bash
# Times pbenchd's TPC-H-shaped load (COPY, binary, generated rows, N
# connections) against psql's \copy of the very same rows from CSV files
# (N concurrent psql streams), both followed by the same primary keys,
# foreign keys and ANALYZE.
#
#   bench/load_tpch.sh [SF] [WORKERS]        defaults: 0.1 2
#
# PBENCHD_TEST_DSN picks the server (default: local PostgreSQL, database test).
set -euo pipefail
SF=${1:-0.1}
WORKERS=${2:-2}
DSN=${PBENCHD_TEST_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
TABLES="region nation supplier part partsupp customer orders lineitem"
SCHEMA=bench_psql_$$

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
cleanup() {
  rm -rf "$tmp"
  psql "$DSN" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sql() { PGOPTIONS="-c search_path=$SCHEMA" psql -X -q -v ON_ERROR_STOP=1 "$DSN" "$@"; }

echo "SF $SF, $WORKERS streams/workers, server: $(psql -XAtc 'SHOW server_version' "$DSN")"
echo "generating CSV files in $tmp ..."
go run ./bench/tpch_csv.go -sf "$SF" -parts "$WORKERS" -out "$tmp"
du -sh "$tmp" | awk '{print "CSV size: " $1}'

psql -X -q "$DSN" -c "CREATE SCHEMA $SCHEMA"
sql -f "$tmp/create.sql"
t0=$(now)
for ((p = 0; p < WORKERS; p++)); do
  (for t in $TABLES; do sql -c "\\copy $t FROM '$tmp/$t.$p.csv' WITH (FORMAT csv)"; done) &
done
wait
t1=$(now)
sql -f "$tmp/keys.sql"
t2=$(now)
sql -f "$tmp/fks.sql"
t3=$(now)
sql -c "ANALYZE $(echo $TABLES | sed "s/ /, /g")"
t4=$(now)
echo "psql \\copy: total $(secs "$t0" "$t4") s (copy $(secs "$t0" "$t1"), keys $(secs "$t1" "$t2"), FKs $(secs "$t2" "$t3"), analyze $(secs "$t3" "$t4"))"

PBENCHD_BENCH_SF=$SF PBENCHD_BENCH_WORKERS=$WORKERS \
  go test ./internal/tpch -run '^$' -bench '^BenchmarkLoad$' -benchtime 1x -v 2>&1 | grep -E 'pbenchd COPY|rows/s|FAIL|Error' || true
