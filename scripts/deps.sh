#!/usr/bin/env bash
# Installs and starts what pbenchd's tests and `make run` need on a Debian
# machine: a running PostgreSQL (with pgbench), Prometheus (for promtool and
# the end-to-end dashboard test), Alertmanager (for the end-to-end alert
# delivery test), kcat and systemd-analyze. Safe to run again:
# it only does what is missing. Usage: scripts/deps.sh [postgres|all]
set -euo pipefail

want=${1:-all}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_updated=""
install() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL: installed and running, reachable on 127.0.0.1:5432.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "deps: installing PostgreSQL (packages postgresql, postgresql-contrib): the tests and make run need a server" >&2
  install postgresql postgresql-contrib
fi
if ! command -v pgbench >/dev/null 2>&1; then
  echo "deps: installing postgresql-contrib: pgbench, the peer that bench/ measures pbenchd against" >&2
  install postgresql-contrib
fi
if ! command -v jq >/dev/null 2>&1; then
  echo "deps: installing jq: bench/pgbench_compare.sh reads pbenchd's JSON results with it" >&2
  install jq
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "deps: starting PostgreSQL $ver (cluster main, 127.0.0.1:5432): it was not answering" >&2
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "deps: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
# SQL as the postgres superuser: through the socket as the postgres OS user
# (peer authentication, Debian's default), else over TCP (trust setups).
as_postgres() {
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    runuser -u postgres -- psql -X -qAt -d postgres -c "$1" 2>/dev/null && return
  elif command -v sudo >/dev/null; then
    sudo -n -u postgres psql -X -qAt -d postgres -c "$1" 2>/dev/null && return
  fi
  psql -X -qAt -h 127.0.0.1 -U postgres -d postgres -c "$1"
}
# The tests use database "test" as user postgres; create it if missing.
if [ "$(as_postgres "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
  echo "deps: creating database test: the tests run in it as user postgres" >&2
  as_postgres "CREATE DATABASE test" >/dev/null
fi
# `make run` connects as libpq does by default: the OS user's role and
# database over the socket. Create them if missing (as on a new server).
me=$(id -un)
if [ "$me" != postgres ] && [ "$(as_postgres "SELECT 1 FROM pg_roles WHERE rolname = '$me'")" != 1 ]; then
  echo "deps: creating PostgreSQL role $me (LOGIN SUPERUSER): make run connects as libpq does by default, as your OS user; drop it with DROP ROLE \"$me\" when done" >&2
  as_postgres "CREATE ROLE \"$me\" LOGIN SUPERUSER" >/dev/null
fi
if [ "$me" != postgres ] && [ "$(as_postgres "SELECT 1 FROM pg_database WHERE datname = '$me'")" != 1 ]; then
  echo "deps: creating database $me owned by $me: libpq's default database for your OS user" >&2
  as_postgres "CREATE DATABASE \"$me\" OWNER \"$me\"" >/dev/null
fi

[ "$want" = postgres ] && exit 0

missing=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
{ command -v prometheus-alertmanager && command -v amtool; } >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}: promtool and prometheus check the alert rules and dashboards, kcat talks to Kafka in the Kafka tests, systemd-analyze checks the unit file" >&2
  install "${missing[@]}"
fi
