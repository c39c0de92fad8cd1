// Package loader owns pbenchd's parallel bulk loading into PostgreSQL-wire
// databases: how work is divided (static ranges or a shared chunk cursor),
// how rows reach the server (the COPY protocol, one connection per worker,
// rows generated lazily so memory stays flat), how a load survives being
// interrupted, and the deterministic data generators behind the `load` setup
// step.
//
// # Partitioning
//
// [Partition] gives worker i of n a contiguous range of m items: floor(m/n)
// each, and one more for each of the first m mod n workers, so the largest
// share is ceil(m/n) and the ranges tile [0, m). The same function divides a
// load between pbenchd instances ([Shard], `--shard i/N`) and then, within
// one instance, between its workers ([Range.Split]).
//
// # Modes
//
// [ModeStatic] hands each worker its [Partition] of every table: optimal when
// every item costs the same. [ModeDynamic] has workers pull fixed-size chunks
// from a shared atomic [Cursor] over all tables, so workers balance
// themselves when items cost different amounts (tables of different sizes,
// lineitem's 1–7 rows per order). [ModeAuto] picks dynamic for more than one
// table and static for one.
//
// # Crash safety
//
// Each table is loaded under a staging name (`<table>__pbenchd_staging`),
// its primary key and indexes are built there, and every table of the load is
// renamed to its final name in one transaction at the end, which also runs
// the caller's closing statements (foreign keys). A load that is interrupted
// (context cancelled, connection lost, process killed) therefore leaves no
// table under a final name, only staging tables, which the next run drops
// before it starts. Completion is recorded on the final table itself (a
// COMMENT carrying the load's fingerprint): a rerun finds every table present
// with the same fingerprint and skips the load. We chose rename over a
// `pbenchd_load_state` table because the guarantee then holds for every
// reader — a benchmark's SQL, psql, a dashboard — not only for readers that
// know to consult the state table first.
//
// A load split over instances ([Options.Shard]) keeps the guarantee: each
// instance copies its share into tables of its own, marked done when
// complete; the instance that completes the last shard merges them and
// renames as above, dropping the shard tables in the same transaction. A
// rerun of an interrupted instance redoes only its own share.
//
// # Determinism
//
// Row k of a generated table is a function of (seed, table, k) alone ([Cell],
// [Rand]), so any worker, in any instance, can produce any range, and two
// runs with the same seed produce the same table whatever the worker split.
package loader
