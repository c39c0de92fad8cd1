package loader

// Progress receives a load's progress, to drive progress bars, log lines and
// the pbenchd_loader_rows_total counter. Its methods are called concurrently
// from the workers and should return quickly.
type Progress interface {
	// Rows reports that rows more rows of table (its final name) have been
	// copied: one COPY batch, already accepted by the server.
	Rows(table string, rows int64)
	// Step reports that table entered step.
	Step(table string, step Step)
}

// Step is a stage a table goes through in a load.
type Step string

// The steps of a table, in order. A skipped load reports only StepSkipped.
const (
	// StepSkipped: the table was already loaded with the same fingerprint.
	StepSkipped Step = "skipped"
	// StepCopy: the staging table exists and rows are being copied.
	StepCopy Step = "copy"
	// StepPending: a sharded load copied this instance's share; another
	// instance's shard is not done yet.
	StepPending Step = "pending"
	// StepMerge: the last instance of a sharded load merges the shards.
	StepMerge Step = "merge"
	// StepIndex: the data is in; the primary key and indexes are being built.
	StepIndex Step = "index"
	// StepReady: the table has its final name (the load's final transaction committed).
	StepReady Step = "ready"
	// StepAnalyze: ANALYZE is running.
	StepAnalyze Step = "analyze"
	// StepDone: nothing more will happen to the table in this load.
	StepDone Step = "done"
)

// ProgressFunc adapts a function of (table, rows) to [Progress]; steps are
// ignored.
type ProgressFunc func(table string, rows int64)

// Rows calls f.
func (f ProgressFunc) Rows(table string, rows int64) { f(table, rows) }

// Step does nothing.
func (ProgressFunc) Step(string, Step) {}

// noProgress is used when Options.Progress is nil.
type noProgress struct{}

func (noProgress) Rows(string, int64) {}
func (noProgress) Step(string, Step)  {}
