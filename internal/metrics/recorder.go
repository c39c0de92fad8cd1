package metrics

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
)

// hdrMax is the largest latency the exact histogram tracks (1 h, in ns);
// longer calls are clamped to it.
const hdrMax = int64(time.Hour)

// Outcome of one call.
type Outcome struct {
	// Intended is when the call was due (open loop: the schedule's time;
	// closed loop: when the worker began it).
	Intended time.Time
	// Start is when the call actually began its work.
	Start time.Time
	// End is when it returned.
	End time.Time
	// ErrClass is "" for success, else the error class.
	ErrClass string
	// Retries lists the reasons of the retries the call made.
	Retries []string
	// Open tells whether the call came from an open loop (schedule lag is
	// recorded only there).
	Open bool
}

// Recorder records the calls of one action during one phase: every call
// into the live Prometheus histograms, and calls after the warm-up into the
// exact per-iteration result. Safe for concurrent use.
type Recorder struct {
	scenario, action string
	m                *Metrics

	latOK, service             prometheus.Observer
	lazy                       lazyObservers // created at their first observation
	callsOK, callsErr, dropped prometheus.Counter
	inflight                   prometheus.Gauge
	slo                        *SLOEvents // nil: no objective to count against

	start     time.Time // phase start: x = 0 of the slope fit
	measureAt time.Time // end of warm-up

	tap func(Outcome)

	mu      sync.Mutex
	hdr     *hdrhistogram.Histogram
	ok      int64
	failed  int64
	drops   int64
	retries int64
	min     time.Duration
	max     time.Duration
	sum     float64 // seconds, for the exact mean
	fit     linearFit
	classes map[string]int64
}

// NewRecorder starts recording an action's phase that began at start, with
// results measured from start+warmup.
func (m *Metrics) NewRecorder(scenario, action string, start time.Time, warmup time.Duration) *Recorder {
	return &Recorder{
		scenario: scenario, action: action, m: m,
		latOK:     m.Latency.WithLabelValues(scenario, action, "ok"),
		service:   m.Service.WithLabelValues(scenario, action),
		callsOK:   m.Calls.WithLabelValues(scenario, action, "ok"),
		callsErr:  m.Calls.WithLabelValues(scenario, action, "error"),
		dropped:   m.Dropped.WithLabelValues(scenario, action),
		inflight:  m.Inflight.WithLabelValues(scenario, action),
		slo:       m.SLO.Events(scenario, action),
		start:     start,
		measureAt: start.Add(warmup),
		hdr:       NewHDR(),
		classes:   map[string]int64{},
	}
}

// Inflight is the gauge of calls in flight of this action.
func (r *Recorder) Inflight() prometheus.Gauge { return r.inflight }

// Tap makes the recorder pass every outcome to f as well, before it is
// recorded (for exports of raw samples and for tests). Call it before the
// first Record.
func (r *Recorder) Tap(f func(Outcome)) { r.tap = f }

// Record records one finished call.
func (r *Recorder) Record(o Outcome) {
	if r.tap != nil {
		r.tap(o)
	}
	latency := o.End.Sub(o.Intended)
	service := o.End.Sub(o.Start)
	if o.ErrClass == "" {
		r.latOK.Observe(latency.Seconds())
		r.callsOK.Inc()
	} else {
		r.lazy.latErr(r).Observe(latency.Seconds())
		r.callsErr.Inc()
		r.m.Errors.WithLabelValues(r.scenario, r.action, o.ErrClass).Inc()
	}
	r.service.Observe(service.Seconds())
	if o.Open {
		r.lazy.lagOf(r).Observe(max(o.Start.Sub(o.Intended), 0).Seconds())
	}
	for _, reason := range o.Retries {
		r.m.Retries.WithLabelValues(r.scenario, r.action, reason).Inc()
	}
	if o.Intended.Before(r.measureAt) {
		return
	}
	r.slo.Record(latency, o.ErrClass == "")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries += int64(len(o.Retries))
	if o.ErrClass != "" {
		r.failed++
		r.classes[o.ErrClass]++
		return
	}
	r.ok++
	ns := min(max(int64(latency), 1), hdrMax)
	_ = r.hdr.RecordValue(ns)
	if r.ok == 1 || latency < r.min {
		r.min = latency
	}
	r.max = max(r.max, latency)
	r.sum += latency.Seconds()
	r.fit.add(o.Intended.Sub(r.start).Seconds(), latency.Seconds())
}

// Drop records an arrival that was not run because of the in-flight cap.
func (r *Recorder) Drop(intended time.Time) {
	r.dropped.Inc()
	if intended.Before(r.measureAt) {
		return
	}
	r.slo.Drop()
	r.mu.Lock()
	r.drops++
	r.mu.Unlock()
}

// Result is the exact outcome of one action over one iteration's
// measured window (the load phase less its warm-up).
type Result struct {
	Scenario, Action string
	// Window is the measured time the QPS is computed over.
	Window time.Duration
	// Calls counts finished calls; OK and Failed split them.
	Calls, OK, Failed int64
	// Dropped counts arrivals not run (open loops).
	Dropped int64
	// Retries counts retries made by the calls.
	Retries int64
	// QPS is successful calls per second of the window.
	QPS float64
	// Latency statistics of successful calls (zero when there were none).
	Min, P50, P95, P99, Max, Avg time.Duration
	// Slope is the latency drift, seconds of latency per second of phase.
	Slope float64
	// ErrorRatio is failed over failed+succeeded calls (dropped arrivals
	// count as failed: the system did not serve them).
	ErrorRatio float64
	// ErrorClasses counts failures by class.
	ErrorClasses map[string]int64
	// Hist is the distribution the latency statistics are read from (a
	// copy, values in ns), for results that merge exactly; nil when no
	// call was measured.
	Hist *hdrhistogram.Histogram
}

// Stat returns a latency statistic by its name (p50, p95, p99, max, avg).
func (r Result) Stat(name string) time.Duration {
	switch name {
	case "p50":
		return r.P50
	case "p95":
		return r.P95
	case "p99":
		return r.P99
	case "max":
		return r.Max
	case "avg":
		return r.Avg
	case "min":
		return r.Min
	}
	return 0
}

// Result computes the exact result of the window that ended at end.
func (r *Recorder) Result(end time.Time) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	window := end.Sub(r.measureAt)
	res := Result{
		Scenario: r.scenario, Action: r.action, Window: window,
		Calls: r.ok + r.failed, OK: r.ok, Failed: r.failed,
		Dropped: r.drops, Retries: r.retries,
		ErrorClasses: map[string]int64{},
	}
	for k, v := range r.classes {
		res.ErrorClasses[k] = v
	}
	if window > 0 {
		res.QPS = float64(r.ok) / window.Seconds()
	}
	if total := r.ok + r.failed + r.drops; total > 0 {
		res.ErrorRatio = float64(r.failed+r.drops) / float64(total)
	}
	if r.ok > 0 {
		res.Min, res.Max = r.min, r.max
		res.P50 = r.quantile(50)
		res.P95 = r.quantile(95)
		res.P99 = r.quantile(99)
		res.Avg = time.Duration(r.sum / float64(r.ok) * 1e9)
		res.Slope = r.fit.slope()
		res.Hist = r.hdr.Clone()
	}
	return res
}

func (r *Recorder) quantile(p float64) time.Duration {
	return Quantile(r.hdr, p, r.min, r.max)
}

// linearFit accumulates an ordinary least-squares fit of y on x.
type linearFit struct {
	n, sx, sy, sxx, sxy float64
}

func (f *linearFit) add(x, y float64) {
	f.n++
	f.sx += x
	f.sy += y
	f.sxx += x * x
	f.sxy += x * y
}

// slope is (nΣxy − ΣxΣy) / (nΣx² − (Σx)²); 0 when x does not vary.
func (f *linearFit) slope() float64 {
	d := f.n*f.sxx - f.sx*f.sx
	if f.n < 2 || math.Abs(d) < 1e-12 {
		return 0
	}
	return (f.n*f.sxy - f.sx*f.sy) / d
}
