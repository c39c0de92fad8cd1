// Package metrics owns pbenchd's Prometheus collectors (the metric contract
// of DESIGN.md) and the exact per-iteration results that live histograms
// cannot give: HDR quantiles, error ratios and the latency slope.
package metrics

import (
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every pbenchd metric.
const Namespace = "pbenchd"

// LatencyBuckets are the classic buckets of the latency histograms: 50µs to
// about 82s, each 1.5× the last, fine enough for sub-millisecond reads and
// for multi-second refreshes alike (37 buckets).
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, 1.5, 37)

// Stats are the latency statistics exported per iteration, in order.
var Stats = []string{"p50", "p95", "p99", "max", "avg"}

// Metrics holds every collector pbenchd exports.
type Metrics struct {
	Latency *prometheus.HistogramVec // scenario, action, outcome
	Service *prometheus.HistogramVec // scenario, action
	Lag     *prometheus.HistogramVec // scenario, action
	// GeneratorLag is how late pbenchd itself took open-loop arrivals up
	// (intended start → a worker began the call), apart from any wait for
	// a connection.
	GeneratorLag *prometheus.HistogramVec // scenario, action
	// Reconnects counts connections a runner had to make again during a
	// phase (a reused connection that broke, a pool replacing one).
	Reconnects *prometheus.CounterVec // scenario, action

	Calls    *prometheus.CounterVec // scenario, action, outcome
	Errors   *prometheus.CounterVec // scenario, action, class
	Retries  *prometheus.CounterVec // scenario, action, reason
	Dropped  *prometheus.CounterVec // scenario, action
	Inflight *prometheus.GaugeVec   // scenario, action
	// InflightMax is the cap on calls in flight of an open loop.
	InflightMax *prometheus.GaugeVec // scenario, action
	// GeneratorLanes is how many scheduler threads hand out an open
	// loop's arrivals now (more than 1 after a split; 0 between phases).
	GeneratorLanes *prometheus.GaugeVec // scenario, action

	ResultQPS        *prometheus.GaugeVec // scenario, action
	ResultLatency    *prometheus.GaugeVec // scenario, action, stat
	ResultSlope      *prometheus.GaugeVec // scenario, action
	ResultErrorRatio *prometheus.GaugeVec // scenario, action
	ResultCalls      *prometheus.GaugeVec // scenario, action
	// ResultSuccessLatency and ResultSuccessSlope are the figures of
	// successful calls only, beside the judged ones.
	ResultSuccessLatency *prometheus.GaugeVec // scenario, action, stat
	ResultSuccessSlope   *prometheus.GaugeVec // scenario, action
	ResultServedQPS      *prometheus.GaugeVec // scenario, action
	ResultOfferedQPS     *prometheus.GaugeVec // scenario, action
	ResultEvents         *prometheus.GaugeVec // scenario, action
	ResultGeneratorLag   *prometheus.GaugeVec // scenario, action, stat (p99, max)
	// GeneratorFault is 1 when the last finished iteration's generator
	// was late or fell behind (the iteration is an error), else 0.
	GeneratorFault *prometheus.GaugeVec // scenario, action
	ResultDropped  *prometheus.GaugeVec // scenario, action

	GuaranteeQPSMin        *prometheus.GaugeVec // scenario, action
	GuaranteeLatencyMax    *prometheus.GaugeVec // scenario, action, stat
	GuaranteeSlopeMax      *prometheus.GaugeVec // scenario, action
	GuaranteeErrorRatioMax *prometheus.GaugeVec // scenario, action
	GuaranteeOK            *prometheus.GaugeVec // scenario, action, stat

	Iterations        *prometheus.CounterVec // scenario, result
	LastIteration     *prometheus.GaugeVec   // scenario
	IterationDuration *prometheus.GaugeVec   // scenario
	PhaseActive       *prometheus.GaugeVec   // scenario, phase
	TeardownFailures  *prometheus.CounterVec // scenario
	TargetUp          *prometheus.GaugeVec   // target

	SweepQPS     *prometheus.GaugeVec // scenario, action, step
	SweepLatency *prometheus.GaugeVec // scenario, action, step, stat

	FreshnessLag *prometheus.HistogramVec // scenario, view
	ViewMismatch *prometheus.CounterVec   // scenario, view
	LoaderRows   *prometheus.CounterVec   // scenario, table

	// KafkaE2E is the time from a record's send (its pbenchd-sent-ns
	// header) to its arrival at a kafka_consume action.
	KafkaE2E *prometheus.HistogramVec // scenario, action
	// KafkaMissing, KafkaDuplicate and KafkaForeign count what a
	// kafka_consume action found: sequence numbers never seen, seen twice,
	// and records without pbenchd's headers.
	KafkaMissing   *prometheus.CounterVec // scenario, action
	KafkaDuplicate *prometheus.CounterVec // scenario, action
	KafkaForeign   *prometheus.CounterVec // scenario, action

	// Probe holds the capacity probes' gauges.
	Probe ProbeMetrics

	// LastJudged is when the last iteration with a verdict (pass or fail)
	// finished: alert rules count iterations in a row by it, so an
	// iteration that ended in an error never advances a streak.
	LastJudged *prometheus.GaugeVec // scenario
	// CycleExpected is how long one pass over every selected scenario is
	// expected to take: the stall alert's yardstick.
	CycleExpected prometheus.Gauge
	// SLO holds the good/bad event counters of the guarantees.
	SLO *SLOMetrics

	ReloadOK   prometheus.Gauge
	ReloadTime prometheus.Gauge
	BuildInfo  *prometheus.GaugeVec // version, revision, goversion

	// Export is held for writing while an iteration's results, verdicts
	// and timestamps are set, and for reading by Consistent's gathers, so
	// that a scrape sees an iteration's gauges all before or all after
	// it (a registry gathers its collectors one by one, in parallel: a
	// scrape in the middle could see the new last_iteration timestamp
	// beside the old last_judged one, an error that never was).
	Export sync.RWMutex
}

// Consistent gathers reg under m.Export (see there), for /metrics.
func (m *Metrics) Consistent(reg prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		m.Export.RLock()
		defer m.Export.RUnlock()
		return reg.Gather()
	})
}

// New builds the collectors and registers them, with the Go runtime and
// process collectors, on reg (never the global registry).
func New(reg prometheus.Registerer) *Metrics {
	sa := []string{"scenario", "action"}
	hist := func(name, help string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: name, Help: help,
			Buckets:                         LatencyBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: 0,
		}, labels)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Latency:      hist("action_latency_seconds", "Response time of each call, from its intended start (the schedule's time in open loops) to its end.", []string{"scenario", "action", "outcome"}),
		Service:      hist("action_service_seconds", "Service time of each call, from its actual start to its end.", sa),
		Lag:          hist("schedule_lag_seconds", "How late open-loop calls started: actual start minus intended start (the generator's lag plus any wait for a connection).", sa),
		GeneratorLag: hist("generator_lag_seconds", "How late pbenchd itself took open-loop arrivals up: from the intended start until a worker began the call, before any wait for a connection.", sa),
		Reconnects:   counter("action_reconnects_total", "Connections made again during a phase (a reused connection that broke, a pooled one replaced), outside any call's service time.", sa...),

		Calls:          counter("action_calls_total", "Calls finished, by outcome.", "scenario", "action", "outcome"),
		Errors:         counter("action_errors_total", "Failed calls by error class (SQLSTATE class, timeout, connect, …).", "scenario", "action", "class"),
		Retries:        counter("action_retries_total", "Retries of calls, by reason (deadlock, serialization).", "scenario", "action", "reason"),
		Dropped:        counter("action_dropped_total", "Open-loop arrivals not run because the cap on calls in flight was reached.", sa...),
		Inflight:       gauge("action_inflight", "Calls in flight.", sa...),
		InflightMax:    gauge("action_inflight_max", "The cap on calls in flight of an open loop.", sa...),
		GeneratorLanes: gauge("generator_lanes", "Scheduler threads (lanes) handing out an open loop's arrivals now: 1, more after the loop split because one fell behind, 0 between phases.", sa...),

		ResultQPS:            gauge("result_qps", "Throughput the qps guarantee judges in the last finished iteration: open loops, the share of offered arrivals served times the configured rate; closed loops, successful calls per second.", sa...),
		ResultLatency:        gauge("result_latency_seconds", "Exact latency statistic the guarantees judge in the last finished iteration: over every arrival or call, failed, dropped and cut-off ones counted as slower than any limit (+Inf when the statistic's rank falls on one; NaN without events).", "scenario", "action", "stat"),
		ResultSlope:          gauge("result_latency_slope", "Latency drift the slope guarantee judges over the last finished iteration's load phase, seconds per second (linear fit, bad events included as the slowest calls).", sa...),
		ResultErrorRatio:     gauge("result_error_ratio", "Bad events (failed, dropped, cut-off, missed) over all events in the last finished iteration.", sa...),
		ResultSuccessLatency: gauge("result_success_latency_seconds", "Exact latency statistic of successful calls only in the last finished iteration (NaN when none succeeded).", "scenario", "action", "stat"),
		ResultSuccessSlope:   gauge("result_success_latency_slope", "Latency drift of successful calls only over the last finished iteration, seconds per second.", sa...),
		ResultServedQPS:      gauge("result_served_qps", "Successful calls per second in the last finished iteration.", sa...),
		ResultOfferedQPS:     gauge("result_offered_qps", "Arrivals per second an open loop's schedule offered in the last finished iteration.", sa...),
		ResultEvents:         gauge("result_events", "Arrivals (open loops) or calls (closed loops) measured in the last finished iteration.", sa...),
		ResultGeneratorLag:   gauge("result_generator_lag_seconds", "Exact generator lag of an open loop in the last finished iteration (stat p99 or max).", "scenario", "action", "stat"),
		GeneratorFault:       gauge("generator_fault", "1 if the generator itself was late or fell behind in the last finished iteration (its verdicts are void), else 0.", sa...),
		ResultCalls:          gauge("result_calls", "Calls finished in the last finished iteration.", sa...),
		ResultDropped:        gauge("result_dropped", "Arrivals dropped in the last finished iteration.", sa...),

		GuaranteeQPSMin:        gauge("guarantee_qps_min", "Configured minimum QPS.", sa...),
		GuaranteeLatencyMax:    gauge("guarantee_latency_seconds_max", "Configured maximum of a latency statistic.", "scenario", "action", "stat"),
		GuaranteeSlopeMax:      gauge("guarantee_latency_slope_max", "Configured maximum latency slope, seconds per second.", sa...),
		GuaranteeErrorRatioMax: gauge("guarantee_error_ratio_max", "Configured maximum error ratio.", sa...),
		GuaranteeOK:            gauge("guarantee_ok", "1 if the last finished iteration met the guarantee, else 0.", "scenario", "action", "stat"),

		Iterations:        counter("iterations_total", "Finished scenario iterations by result (pass, fail, error).", "scenario", "result"),
		LastIteration:     gauge("last_iteration_timestamp_seconds", "When the last iteration of the scenario finished.", "scenario"),
		IterationDuration: gauge("iteration_duration_seconds", "Wall time of the last iteration of the scenario.", "scenario"),
		PhaseActive:       gauge("phase_active", "1 while the phase runs.", "scenario", "phase"),
		TeardownFailures:  counter("teardown_failures_total", "Teardowns that failed: leftovers may remain and settings may not be restored.", "scenario"),
		TargetUp:          gauge("target_up", "1 if the target answered its last probe or call, else 0.", "target"),

		SweepQPS:     gauge("sweep_qps", "Successful calls per second at one step (concurrency) of the last sweep.", "scenario", "action", "step"),
		SweepLatency: gauge("sweep_latency_seconds", "Exact latency statistic at one step of the last sweep.", "scenario", "action", "step", "stat"),

		FreshnessLag: hist("freshness_lag_seconds", "Time from a write until a view reflects it.", []string{"scenario", "view"}),
		ViewMismatch: counter("view_mismatch_total", "Iterations whose view contents differed from the direct query.", "scenario", "view"),
		LoaderRows:   counter("loader_rows_total", "Rows written by the data loader.", "scenario", "table"),

		KafkaE2E:       hist("kafka_e2e_latency_seconds", "Time from a record's send (its pbenchd-sent-ns header) to its arrival at a kafka_consume action.", sa),
		KafkaMissing:   counter("kafka_missing_total", "Sequence numbers a kafka_consume action never saw, counted when it stops (gaps between the lowest and highest seen, per producer).", sa...),
		KafkaDuplicate: counter("kafka_duplicate_total", "Records a kafka_consume action saw again (same producer and sequence number).", sa...),
		KafkaForeign:   counter("kafka_foreign_total", "Records without pbenchd's headers that a kafka_consume action skipped.", sa...),

		LastJudged: gauge("last_judged_iteration_timestamp_seconds", "When the last iteration of the scenario with a verdict (pass or fail, not error) finished.", "scenario"),
		CycleExpected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "cycle_expected_seconds",
			Help: "How long one pass over every selected scenario is expected to take: each one's last iteration time (its configured phase time before the first), plus the pauses."}),
		SLO: newSLOMetrics(),

		ReloadOK:   prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_last_reload_successful", Help: "1 if the last configuration reload succeeded."}),
		ReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully."}),
		BuildInfo:  gauge("build_info", "Always 1; labels describe the build.", "version", "revision", "goversion"),
	}
	reg.MustRegister(
		m.Latency, m.Service, m.Lag, m.GeneratorLag, m.Reconnects,
		m.ResultSuccessLatency, m.ResultSuccessSlope, m.ResultServedQPS, m.ResultOfferedQPS, m.ResultEvents, m.ResultGeneratorLag, m.GeneratorFault,
		m.Calls, m.Errors, m.Retries, m.Dropped, m.Inflight, m.InflightMax, m.GeneratorLanes,
		m.ResultQPS, m.ResultLatency, m.ResultSlope, m.ResultErrorRatio, m.ResultCalls, m.ResultDropped,
		m.GuaranteeQPSMin, m.GuaranteeLatencyMax, m.GuaranteeSlopeMax, m.GuaranteeErrorRatioMax, m.GuaranteeOK,
		m.Iterations, m.LastIteration, m.IterationDuration, m.PhaseActive, m.TeardownFailures, m.TargetUp,
		m.SweepQPS, m.SweepLatency,
		m.FreshnessLag, m.ViewMismatch, m.LoaderRows,
		m.KafkaE2E, m.KafkaMissing, m.KafkaDuplicate, m.KafkaForeign,
		m.ReloadOK, m.ReloadTime, m.BuildInfo,
		m.LastJudged, m.CycleExpected, m.SLO.Good, m.SLO.Bad, m.SLO.Budget,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.Probe = newProbeMetrics(reg)
	m.BuildInfo.WithLabelValues(Version, Revision(), runtime.Version()).Set(1)
	return m
}

// Version is set at build time with -ldflags "-X …/metrics.Version=v1.2.3".
var Version = "dev"

// revision is set at build time with -ldflags "-X …/metrics.revision=…"
// where the VCS stamp is not available (builds with -buildvcs=false).
var revision string

// Revision returns the VCS revision the binary was built from, if known.
func Revision() string {
	if revision != "" {
		return revision
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// InitScenario makes the scenario's iteration counters exist at 0, so that
// increase() sees the first error or failure.
func (m *Metrics) InitScenario(scenario string) {
	for _, r := range []string{"pass", "fail", "error"} {
		m.Iterations.WithLabelValues(scenario, r)
	}
	m.TeardownFailures.WithLabelValues(scenario)
}

// ForgetGuarantees deletes the published guarantees and verdicts of a
// scenario.
func (m *Metrics) ForgetGuarantees(scenario string) {
	l := prometheus.Labels{"scenario": scenario}
	m.GuaranteeQPSMin.DeletePartialMatch(l)
	m.GuaranteeLatencyMax.DeletePartialMatch(l)
	m.GuaranteeSlopeMax.DeletePartialMatch(l)
	m.GuaranteeErrorRatioMax.DeletePartialMatch(l)
	m.GuaranteeOK.DeletePartialMatch(l)
}

// ForgetScenario deletes every per-iteration series of a scenario that is
// no longer configured, so alerts do not fire for it.
func (m *Metrics) ForgetScenario(scenario string) {
	l := prometheus.Labels{"scenario": scenario}
	m.ForgetGuarantees(scenario)
	for _, g := range []*prometheus.GaugeVec{m.ResultQPS, m.ResultLatency, m.ResultSlope, m.ResultErrorRatio,
		m.ResultCalls, m.ResultDropped, m.ResultSuccessLatency, m.ResultSuccessSlope, m.ResultServedQPS,
		m.ResultOfferedQPS, m.ResultEvents, m.ResultGeneratorLag, m.GeneratorFault, m.LastIteration, m.LastJudged,
		m.IterationDuration, m.PhaseActive, m.Inflight, m.InflightMax, m.GeneratorLanes,
		m.SweepQPS, m.SweepLatency} {
		g.DeletePartialMatch(l)
	}
	m.Iterations.DeletePartialMatch(l)
	// Live series too: a scenario removed from the configuration leaves
	// nothing behind for dashboards and alerts to show.
	for _, c := range []*prometheus.CounterVec{m.Calls, m.Errors, m.Retries, m.Dropped, m.TeardownFailures,
		m.ViewMismatch, m.LoaderRows, m.KafkaMissing, m.KafkaDuplicate, m.KafkaForeign, m.Reconnects} {
		c.DeletePartialMatch(l)
	}
	for _, h := range []*prometheus.HistogramVec{m.Latency, m.Service, m.Lag, m.GeneratorLag, m.FreshnessLag, m.KafkaE2E} {
		h.DeletePartialMatch(l)
	}
	m.Probe.forget(l)
	m.SLO.forget(scenario)
}
