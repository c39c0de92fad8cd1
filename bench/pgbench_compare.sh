#!/usr/bin/env bash
# pgbench_compare.sh: pbenchd and pgbench side by side against the same
# PostgreSQL, on the same workload, to show what pbenchd's own overhead
# costs in throughput (and, with MODE=open, in measured latency).
#
# The workload is pgbench's built-in select-only script,
#   SELECT abalance FROM pgbench_accounts WHERE aid = :aid   (aid uniform in 1..100000*scale)
# prepared, over one connection per client, on a table made by
# `pgbench -i -s SCALE` in a database of its own (BENCH_DB, created if
# missing, initialised only when its scale differs).
#
#   MODE=closed (default)  pgbench -S -M prepared -c N -j N -T D
#                          vs a pbenchd closed loop of N reuse workers
#   MODE=open              pgbench -R RATE (Poisson arrivals, latency from the
#                          scheduled time) vs a pbenchd poisson open loop at
#                          RATE/s over N reused connections
#
# Each side runs REPS times, alternating (ABBA order, so drift in the machine
# hits both sides alike); the script prints every run, the median of each
# side and the ratio of the medians. It exits 0 whatever the ratio (this is
# a benchmark, not a test) and non-zero only when something failed.
#
# WORKLOAD=select1 runs `SELECT 1` on both sides instead (pgbench -f with
# that one statement, prepared), which measures the clients alone.
#
# Settings (environment):
#   WORKLOAD=point   point (pgbench -S) or select1
#   CLIENTS=8        clients / workers / connections, both sides
#   DURATION=15      seconds per run (an integer; "15s" is accepted)
#   SCALE=10         pgbench scale factor (100000*SCALE accounts)
#   REPS=3           runs per side
#   MODE=closed      closed or open
#   RATE=2000        open mode: arrivals per second, both sides
#   TRANSPORT=tcp    tcp (127.0.0.1, sslmode=disable, both sides) or unix
#                    (the server's Unix socket directory, both sides)
#   PGHOST_TCP=127.0.0.1  PORT=5432  BENCH_USER=postgres  BENCH_DB=pbenchd_bench
#   SOCKET_DIR=      unix mode: the socket directory (default: asked from the server)
#   WARMUP=3         seconds of an untimed pgbench run first, to warm the caches (0: none)
#   PBENCHD=         a pbenchd binary to use (default: bin/pbenchd when newer
#                    than the sources, else a fresh `go build` in a temp dir)
#   SKIP_DEPS=0      1: do not run scripts/deps.sh postgres
#   KEEP=0           1: keep the temp directory (configs, raw outputs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

CLIENTS=${CLIENTS:-8}
WORKLOAD=${WORKLOAD:-point}
DURATION=${DURATION:-15}
DURATION=${DURATION%s}
SCALE=${SCALE:-10}
REPS=${REPS:-3}
MODE=${MODE:-closed}
RATE=${RATE:-2000}
TRANSPORT=${TRANSPORT:-tcp}
PGHOST_TCP=${PGHOST_TCP:-127.0.0.1}
PORT=${PORT:-5432}
BENCH_USER=${BENCH_USER:-postgres}
BENCH_DB=${BENCH_DB:-pbenchd_bench}
SOCKET_DIR=${SOCKET_DIR:-}
WARMUP=${WARMUP:-3}
PBENCHD=${PBENCHD:-}
SKIP_DEPS=${SKIP_DEPS:-0}
KEEP=${KEEP:-0}

die() {
  echo "pgbench_compare: $*" >&2
  exit 1
}
log() { echo "pgbench_compare: $*" >&2; }

# ---- settings -------------------------------------------------------------
for v in CLIENTS DURATION SCALE REPS RATE PORT WARMUP; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v} is not a whole number"
done
[ "$CLIENTS" -ge 1 ] || die "CLIENTS must be at least 1"
[ "$DURATION" -ge 1 ] || die "DURATION must be at least 1 (seconds)"
[ "$SCALE" -ge 1 ] || die "SCALE must be at least 1"
[ "$REPS" -ge 1 ] || die "REPS must be at least 1"
case "$MODE" in closed | open) ;; *) die "MODE=$MODE is not closed or open" ;; esac
case "$WORKLOAD" in point | select1) ;; *) die "WORKLOAD=$WORKLOAD is not point or select1" ;; esac
[ "$MODE" = closed ] || [ "$RATE" -ge 1 ] || die "RATE must be at least 1 in open mode"
case "$TRANSPORT" in tcp | unix) ;; *) die "TRANSPORT=$TRANSPORT is not tcp or unix" ;; esac
[[ $BENCH_DB =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB=$BENCH_DB is not a plain lower-case identifier"
[[ $BENCH_USER =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "BENCH_USER=$BENCH_USER is not a plain identifier"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgbench_compare.XXXXXX")
cleanup() {
  if [ "$KEEP" = 1 ]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# ---- PostgreSQL and pgbench -----------------------------------------------
if [ "$SKIP_DEPS" != 1 ] && [ -x "$repo/scripts/deps.sh" ]; then
  "$repo/scripts/deps.sh" postgres || die "scripts/deps.sh postgres failed"
fi
for c in pgbench psql pg_isready jq; do
  command -v "$c" >/dev/null 2>&1 || die "$c is not installed (scripts/deps.sh postgres installs it)"
done
pg_isready -q -h "$PGHOST_TCP" -p "$PORT" || die "PostgreSQL is not answering on $PGHOST_TCP:$PORT"

# libpq settings for psql and pgbench; pbenchd gets the same in its DSN.
export PGUSER=$BENCH_USER PGPORT=$PORT PGSSLMODE=disable PGAPPNAME=pgbench_compare
unset PGDATABASE PGSERVICE PGOPTIONS || true
if [ "$TRANSPORT" = unix ]; then
  if [ -z "$SOCKET_DIR" ]; then
    SOCKET_DIR=$(psql -h "$PGHOST_TCP" -d postgres -Atqc "SHOW unix_socket_directories" | cut -d, -f1 | tr -d ' ')
  fi
  [ -S "$SOCKET_DIR/.s.PGSQL.$PORT" ] || die "no PostgreSQL socket at $SOCKET_DIR/.s.PGSQL.$PORT"
  export PGHOST=$SOCKET_DIR
  where="Unix socket $SOCKET_DIR/.s.PGSQL.$PORT"
else
  export PGHOST=$PGHOST_TCP
  where="TCP $PGHOST_TCP:$PORT, sslmode=disable"
fi
psql -d postgres -Atqc "SELECT 1" >/dev/null || die "cannot connect as $BENCH_USER over $where"

if ! psql -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'" | grep -q 1; then
  log "creating database $BENCH_DB"
  psql -d postgres -qc "CREATE DATABASE $BENCH_DB" >/dev/null || die "cannot create database $BENCH_DB"
fi
accounts=$((100000 * SCALE))
have=$(psql -d "$BENCH_DB" -Atqc "SELECT (SELECT count(*) FROM pgbench_branches) || ' ' || (SELECT max(aid) FROM pgbench_accounts)" 2>/dev/null || true)
if [ "$have" != "$SCALE $accounts" ]; then
  log "initialising $BENCH_DB with pgbench -i -s $SCALE"
  pgbench -i -q -s "$SCALE" "$BENCH_DB" >"$tmp/init.log" 2>&1 || {
    cat "$tmp/init.log" >&2
    die "pgbench -i failed"
  }
fi

# ---- pbenchd ----------------------------------------------------------------
if [ -z "$PBENCHD" ]; then
  if [ -x "$repo/bin/pbenchd" ] && [ -z "$(find "$repo/cmd" "$repo/internal" "$repo/config" "$repo/go.mod" "$repo/go.sum" \
    -newer "$repo/bin/pbenchd" \( -name '*.go' ! -name '*_test.go' -o -name '*.yaml' -o -name 'go.*' \) -print -quit)" ]; then
    PBENCHD=$repo/bin/pbenchd
  else
    command -v go >/dev/null 2>&1 || die "go is not installed and there is no up-to-date bin/pbenchd (make build)"
    log "building pbenchd"
    (cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/pbenchd" ./cmd/pbenchd) || die "go build failed"
    PBENCHD=$tmp/pbenchd
  fi
fi
[ -x "$PBENCHD" ] || die "PBENCHD=$PBENCHD is not an executable"

if [ "$TRANSPORT" = unix ]; then
  dsn="host=$SOCKET_DIR port=$PORT user=$BENCH_USER dbname=$BENCH_DB"
else
  dsn="host=$PGHOST_TCP port=$PORT user=$BENCH_USER dbname=$BENCH_DB sslmode=disable"
fi
query='SELECT abalance FROM pgbench_accounts WHERE aid = $1'
args="args: [{ kind: uniform_int, min: 1, max: $accounts }]"
pgscript=(-S)
if [ "$WORKLOAD" = select1 ]; then
  query='SELECT 1'
  args="args: []"
  echo 'SELECT 1;' >"$tmp/select1.sql"
  pgscript=(-f "$tmp/select1.sql")
fi
if [ "$MODE" = closed ]; then
  loop="closed: { concurrency: $CLIENTS }"
  conns=""
else
  # pgbench -R draws Poisson arrivals and never drops one; so do these,
  # within pbenchd's largest cap on calls in flight.
  loop="open: { rate: $RATE/s, arrivals: poisson, max_inflight: 10000 }"
  conns=$'\n'"                connections: $CLIENTS"
fi
cat >"$tmp/pbenchd.yaml" <<EOF
# Generated by bench/pgbench_compare.sh.
targets:
  bench:
    kind: postgres
    dsn: "$dsn"
scenarios:
  - name: pgbench_select
    description: pgbench's select-only script (-S -M prepared) as a pbenchd scenario
    target: bench
    phases:
      - load:
          duration: ${DURATION}s
          actions:
            - name: select
              $loop
              sql:
                query: '$query'
                $args
                conn: reuse
                mode: prepared$conns
EOF
"$PBENCHD" check --config "$tmp/pbenchd.yaml" --scenarios pgbench_select >"$tmp/check.log" 2>&1 || {
  cat "$tmp/check.log" >&2
  die "pbenchd rejected the generated config $tmp/pbenchd.yaml"
}

# ---- measuring -------------------------------------------------------------
have_time=0
[ -x /usr/bin/time ] && have_time=1

# busy_ticks prints the machine's busy and total CPU ticks (/proc/stat).
busy_ticks() {
  awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat
}

# The server's CPU for a run, when the server runs on this machine. The
# run's backends are new and end with it; when the postmaster reaps them,
# the kernel adds their CPU time to its children's (cutime and cstime in
# /proc/PID/stat). So the server's CPU for a run is what the postmaster's
# children's time grew by from before the run until its backends are
# gone, read twice with nothing running beside the run: a sampler reading
# the backends' own ticks during the run took CPU on the cores it
# measured (a run at 40,000/s gave a p95 of 0.84 ms beside one sampling
# four times a second, 0.18–0.28 ms alone). A few short-lived workers of
# the server's own (autovacuum) may be counted too, alike on both sides.
# Without the postmaster's /proc entry (SERVER_CPU shows "-"), nothing.
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
pm_pid=
if dir=$(psql -d postgres -Atqc "SHOW data_directory" 2>/dev/null) && [ -r "$dir/postmaster.pid" ]; then
  pm_pid=$(head -n 1 "$dir/postmaster.pid")
  [ -r "/proc/$pm_pid/stat" ] || pm_pid=
fi

# children_ticks prints the postmaster's children's CPU ticks (or -).
children_ticks() {
  local st
  if [ -z "$pm_pid" ] || ! st=$(cat "/proc/$pm_pid/stat" 2>/dev/null); then
    echo -
    return
  fi
  # After the ")" that ends the command name, cutime is the 14th field, cstime the 15th.
  echo "${st##*) }" | awk '{ print $14 + $15 }'
}

# backends_gone waits, at most 10 s, until no backend of BENCH_DB is left
# (their titles name the database).
backends_gone() {
  local i
  for i in $(seq 200); do
    ps -C postgres -o args= 2>/dev/null | grep -q -- " $BENCH_DB " || return 0
    sleep 0.05
  done
  log "backends of $BENCH_DB still there 10 s after a run: the server's CPU leaves them out"
}

# timed OUT CMD…: runs CMD with its output in OUT; its CPU (user sys
# maxrss_kB) goes to OUT.cpu, the machine's busy share to OUT.busy and the
# server's CPU seconds (or -) to OUT.server.
timed() {
  local out=$1
  shift
  local b0 t0 b1 t1 c0 c1 rc=0
  backends_gone
  c0=$(children_ticks)
  read -r b0 t0 < <(busy_ticks)
  if [ "$have_time" = 1 ]; then
    /usr/bin/time -f '%U %S %M' -o "$out.cpu" "$@" >"$out" 2>"$out.err" || rc=$?
  else
    "$@" >"$out" 2>"$out.err" || rc=$?
    echo "- - -" >"$out.cpu"
  fi
  read -r b1 t1 < <(busy_ticks)
  awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{ if (t > 0) printf "%.0f\n", 100*b/t; else print "-" }' >"$out.busy"
  backends_gone
  c1=$(children_ticks)
  if [ "$c0" = - ] || [ "$c1" = - ]; then
    echo - >"$out.server"
  else
    awk -v hz="$hz" -v d=$((c1 - c0)) 'BEGIN { printf "%.2f\n", d / hz }' >"$out.server"
  fi
  return $rc
}

# server_text OUT COUNT: "server cpu 21.0 s (34.4 µs/call)" from OUT.server.
server_text() {
  awk -v n="$2" '{ if ($1 == "-") { print "server cpu -"; exit }
    if (n > 0) printf "server cpu %.1f s (%.1f µs/call)", $1, 1e6*$1/n; else printf "server cpu %.1f s", $1 }' "$1.server"
}

# cpu_text OUT COUNT: "cpu 7.9 s (25.1 µs/call)" from OUT.cpu.
cpu_text() {
  awk -v n="$2" '{ if ($1 == "-") { print "cpu -"; exit }
    c = $1 + $2; if (n > 0) printf "cpu %.1f s (%.1f µs/call)", c, 1e6*c/n; else printf "cpu %.1f s", c }' "$1.cpu"
}

# percentiles of pgbench -l logs (column 3: latency in µs, from the
# scheduled time under -R) in ms: "p50 p95 p99 max avg".
log_percentiles() {
  cat "$@" | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END {
      if (NR == 0) { print "- - - - -"; exit }
      split("50 95 99", ps, " ")
      for (i = 1; i <= 3; i++) { k = int(NR * ps[i] / 100 + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; printf "%.3f ", v[k] / 1000 }
      printf "%.3f %.3f\n", v[NR] / 1000, s / NR / 1000
    }'
}

# run_pgbench REP: prints "tps latency_avg_ms count [p50 p95 p99 max avg lag_ms]".
run_pgbench() {
  local rep=$1 out="$tmp/pgbench.$1"
  local args=(-n "${pgscript[@]}" -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION")
  if [ "$MODE" = open ]; then
    args+=(-R "$RATE" -l --log-prefix="$tmp/pglog.$rep")
  fi
  timed "$out" pgbench "${args[@]}" "$BENCH_DB" || {
    cat "$out" "$out.err" >&2
    die "pgbench failed (run $rep)"
  }
  local tps lat cnt
  tps=$(awk '/^tps = /{print $3; exit}' "$out")
  lat=$(awk '/^latency average = /{print $4; exit}' "$out")
  cnt=$(awk -F': ' '/^number of transactions actually processed/{print $2; exit}' "$out" | awk '{print $1}')
  [ -n "$tps" ] || {
    cat "$out" "$out.err" >&2
    die "no tps in pgbench's output (run $rep)"
  }
  if awk '/^number of failed transactions: /{exit !($5 > 0)}' "$out"; then
    log "warning: pgbench run $rep had failed transactions"
  fi
  if [ "$MODE" = open ]; then
    local lag
    lag=$(awk '/^rate limit schedule lag: /{print $6; exit}' "$out")
    echo "$tps $lat $cnt $(log_percentiles "$tmp"/pglog."$rep".*) ${lag:--}"
    rm -f "$tmp"/pglog."$rep".*
  else
    echo "$tps $lat $cnt"
  fi
}

# run_pbenchd REP: prints "qps calls errors p50_ms p95_ms p99_ms max_ms
# dropped". A quantile that fell on a dropped or missed arrival is
# infinite (pbenchd counts them as never served) and prints as inf.
run_pbenchd() {
  local rep=$1 out="$tmp/pbenchd.$1"
  timed "$out" "$PBENCHD" once --config "$tmp/pbenchd.yaml" --scenarios pgbench_select --warmup 0s --log.level warn --format json || {
    cat "$out" "$out.err" >&2
    die "pbenchd once failed (run $rep)"
  }
  local row
  # The action's results from once's JSON: qps, calls, failed, then p50,
  # p95, p99 and max in ms (the achieved rate is served_qps), and the
  # arrivals dropped or missed.
  row=$(jq -r '.results.pgbench_select.actions[] | select(.action == "select") |
    def ms: if . == null then "-" elif type == "string" then "inf" else (. * 1000 * 1000 | round / 1000 | tostring) end;
    [(.served_qps | tostring), (.calls | tostring), (.failed | tostring), (.p50 | ms), (.p95 | ms), (.p99 | ms), (.max | ms), ((.dropped // 0) | tostring)] | join(" ")' "$out" 2>/dev/null)
  [ -n "$row" ] || {
    cat "$out" "$out.err" >&2
    die "no result row in pbenchd's output (run $rep)"
  }
  echo "$row"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
    else if (v[NR / 2 + 1] == "inf") print "inf"; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "inf" || b == "inf") print "-"; else if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# ---- run -----------------------------------------------------------------------
echo "pgbench_compare: mode $MODE, workload $WORKLOAD, $CLIENTS clients, ${DURATION}s x $REPS runs per side, scale $SCALE ($accounts accounts), $where"
echo "  machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(pgbench --version); $("$PBENCHD" version)"
if [ "$MODE" = closed ]; then
  echo "  pgbench -n ${pgscript[*]} -M prepared -c $CLIENTS -j $CLIENTS -T $DURATION $BENCH_DB"
else
  echo "  pgbench -n ${pgscript[*]} -M prepared -c $CLIENTS -j $CLIENTS -T $DURATION -R $RATE -l $BENCH_DB"
fi
echo "  pbenchd once --config <generated> --scenarios pgbench_select --warmup 0s   ($loop; reuse, prepared)"
if [ "$WARMUP" -gt 0 ]; then
  pgbench -n -S -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$WARMUP" "$BENCH_DB" >"$tmp/warmup.log" 2>&1 || {
    cat "$tmp/warmup.log" >&2
    die "warm-up pgbench run failed"
  }
fi
echo

pg_vals=() pb_vals=() pg_lat=() pb_lat=()
for rep in $(seq 1 "$REPS"); do
  # ABBA: odd runs start with pgbench, even runs with pbenchd.
  if [ $((rep % 2)) = 1 ]; then order="pgbench pbenchd"; else order="pbenchd pgbench"; fi
  for side in $order; do
    if [ "$side" = pgbench ]; then
      res=$(run_pgbench "$rep")
      read -r -a g <<<"$res"
      pg_tps=${g[0]}
      pg_cpu=$(cpu_text "$tmp/pgbench.$rep" "${g[2]}")
      pg_busy=$(cat "$tmp/pgbench.$rep.busy")
      pg_srv=$(server_text "$tmp/pgbench.$rep" "${g[2]}")
      if [ "$MODE" = closed ]; then
        printf '  run %d  pgbench  %10.1f tps  lat avg %s ms  client %s  %s  machine busy %s%%\n' \
          "$rep" "$pg_tps" "${g[1]}" "$pg_cpu" "$pg_srv" "$pg_busy"
      else
        printf '  run %d  pgbench  %10.1f tps  lat avg %s ms p50 %s p95 %s p99 %s max %s ms (from schedule; lag avg %s ms)  client %s  %s  busy %s%%\n' \
          "$rep" "$pg_tps" "${g[1]}" "${g[3]}" "${g[4]}" "${g[5]}" "${g[6]}" "${g[8]}" "$pg_cpu" "$pg_srv" "$pg_busy"
        pg_lat+=("${g[3]} ${g[4]} ${g[5]}")
      fi
      pg_vals+=("$pg_tps")
    else
      res=$(run_pbenchd "$rep")
      read -r -a p <<<"$res"
      pb_qps=${p[0]}
      [ "${p[2]}" = 0 ] || log "warning: pbenchd run $rep had ${p[2]} failed calls"
      [ "${p[7]}" = 0 ] || log "warning: pbenchd run $rep dropped ${p[7]} arrivals (its cap on calls in flight was reached): its quantiles count them as never served"
      pb_cpu=$(cpu_text "$tmp/pbenchd.$rep" "${p[1]}")
      pb_busy=$(cat "$tmp/pbenchd.$rep.busy")
      pb_srv=$(server_text "$tmp/pbenchd.$rep" "${p[1]}")
      if [ "$MODE" = closed ]; then
        printf '  run %d  pbenchd  %10.1f qps  p50 %s p99 %s ms  client %s  %s  machine busy %s%%\n' \
          "$rep" "$pb_qps" "${p[3]}" "${p[5]}" "$pb_cpu" "$pb_srv" "$pb_busy"
      else
        printf '  run %d  pbenchd  %10.1f qps  p50 %s p95 %s p99 %s max %s ms (from schedule)  client %s  %s  busy %s%%\n' \
          "$rep" "$pb_qps" "${p[3]}" "${p[4]}" "${p[5]}" "${p[6]}" "$pb_cpu" "$pb_srv" "$pb_busy"
        pb_lat+=("${p[3]} ${p[4]} ${p[5]}")
      fi
      pb_vals+=("$pb_qps")
    fi
  done
  printf '  run %d: pgbench %.0f tps | pbenchd %.0f qps | ratio %s\n\n' "$rep" "$pg_tps" "$pb_qps" "$(ratio "$pb_qps" "$pg_tps")"
done

pg_med=$(printf '%s\n' "${pg_vals[@]}" | median)
pb_med=$(printf '%s\n' "${pb_vals[@]}" | median)
printf 'median of %d: pgbench %.0f tps | pbenchd %.0f qps | ratio %s\n' "$REPS" "$pg_med" "$pb_med" "$(ratio "$pb_med" "$pg_med")"
if [ "$MODE" = open ]; then
  col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median | awk '{ if ($1 ~ /inf/) print "inf"; else printf "%.3f", $1 }'; }
  for i in 1 2 3; do
    name=$(echo "p50 p95 p99" | cut -d' ' -f$i)
    a=$(col "$i" "${pg_lat[@]}")
    b=$(col "$i" "${pb_lat[@]}")
    printf '  latency %s (median of runs): pgbench %s ms | pbenchd %s ms | ratio %s\n' "$name" "$a" "$b" "$(ratio "$b" "$a")"
  done
  echo "  (offered rate $RATE/s on both sides; a ratio of achieved rates below 1 means pbenchd served fewer arrivals)"
fi
