package metrics

import (
	"math"
	"sync"
	"sync/atomic"
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
	// Dispatched is when a worker took the arrival up (open loop), before
	// it waited for a connection: Dispatched − Intended is the generator's
	// own lag. Zero means Start.
	Dispatched time.Time
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

// ClassDrainCut is the error class of a call still running when its phase's
// drain ran out: it was due and was not served.
const ClassDrainCut = "drain_cut"

// ClassMissed is the error class of arrivals the generator could not issue
// before its phase's deadline (it fell behind its schedule).
const ClassMissed = "generator_missed"

// Recorder records the calls of one action during one phase: every call
// into the live Prometheus histograms, and calls after the warm-up into the
// exact per-iteration result. Safe for concurrent use.
//
// Every intended arrival (open loop) or call (closed loop) after warm-up is
// an event: a successful call is a good event; a failed, timed-out,
// dropped, drain-cut or missed one is a bad event, slower than any latency
// limit. See Result for the figures that follow.
type Recorder struct {
	scenario, action string
	m                *Metrics

	latOK, service             prometheus.Observer
	lazy                       lazyObservers // created at their first observation
	callsOK, callsErr, dropped prometheus.Counter
	inflight                   prometheus.Gauge
	lanes                      prometheus.Gauge
	lanesMax                   atomic.Int32 // the most lanes at once in the phase
	slo                        *SLOEvents   // nil: no objective to count against

	start     time.Time // phase start: x = 0 of the slope fit
	measureAt time.Time // end of warm-up

	tap func(Outcome)

	open bool
	rate float64 // the schedule's mean rate over the window (open loops)

	mu sync.Mutex
	exact
	shards []*Shard
}

// exact is the exact per-iteration state of some of an action's calls: the
// Recorder's own, and each Shard's. They merge exactly: counts and
// histogram buckets add, extremes combine, the fits' sums add.
type exact struct {
	lat     dist                    // successful calls, from the intended start
	taken   dist                    // successful calls, from when a worker took them up
	lagHdr  *hdrhistogram.Histogram // generator lag of open-loop arrivals
	ok      int64
	failed  int64
	drops   int64
	missed  int64
	retries int64
	maxAny  time.Duration // of every call that ran, failed ones included
	fit     linearFit     // successful calls
	bad     linearFit     // x of bad events (their y is set at the end)
	classes map[string]int64
}

func newExact() exact {
	return exact{lat: newDist(), taken: newDist(), lagHdr: NewHDR(), classes: map[string]int64{}}
}

// merge adds o into e.
func (e *exact) merge(o *exact) {
	e.lat.merge(&o.lat)
	e.taken.merge(&o.taken)
	e.lagHdr.Merge(o.lagHdr)
	e.ok += o.ok
	e.failed += o.failed
	e.drops += o.drops
	e.missed += o.missed
	e.retries += o.retries
	e.maxAny = max(e.maxAny, o.maxAny)
	e.fit.addFit(&o.fit)
	e.bad.addFit(&o.bad)
	for k, v := range o.classes {
		e.classes[k] += v
	}
}

// Shard is a part of a Recorder that some of an action's workers record
// into, under a mutex of its own, so that the calls of an action do not
// all take one lock; Result merges every shard exactly. The live
// Prometheus series are the Recorder's, shared (their updates are atomic).
type Shard struct {
	r  *Recorder
	mu sync.Mutex
	exact
}

// Shard makes a new shard of the recorder; Result reads every shard.
func (r *Recorder) Shard() *Shard {
	sh := &Shard{r: r, exact: newExact()}
	r.mu.Lock()
	r.shards = append(r.shards, sh)
	r.mu.Unlock()
	return sh
}

// Record records one finished call into the shard.
func (sh *Shard) Record(o Outcome) { record(sh.r, &sh.mu, &sh.exact, o) }

// merged is the recorder's own exact state and every shard's, added up
// into a copy.
func (r *Recorder) merged() *exact {
	e := newExact()
	r.mu.Lock()
	e.merge(&r.exact)
	shards := r.shards
	r.mu.Unlock()
	for _, sh := range shards {
		sh.mu.Lock()
		e.merge(&sh.exact)
		sh.mu.Unlock()
	}
	return &e
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
		lanes:     m.GeneratorLanes.WithLabelValues(scenario, action),
		slo:       m.SLO.Events(scenario, action),
		start:     start,
		measureAt: start.Add(warmup),
		exact:     newExact(),
	}
}

// dist is an exact distribution of latencies.
type dist struct {
	hdr      *hdrhistogram.Histogram
	min, max time.Duration
	sum      float64 // seconds, for the exact mean
}

func newDist() dist { return dist{hdr: NewHDR()} }

func (d *dist) add(v time.Duration) {
	if d.hdr.TotalCount() == 0 || v < d.min {
		d.min = v
	}
	d.max = max(d.max, v)
	d.sum += v.Seconds()
	_ = d.hdr.RecordValue(min(max(int64(v), 1), hdrMax))
}

// merge adds o into d.
func (d *dist) merge(o *dist) {
	if o.hdr.TotalCount() == 0 {
		return
	}
	if d.hdr.TotalCount() == 0 || o.min < d.min {
		d.min = o.min
	}
	d.max = max(d.max, o.max)
	d.sum += o.sum
	d.hdr.Merge(o.hdr)
}

// SetSchedule declares the action an open loop whose schedule offers, on
// average over the measured window, rate arrivals per second. Call it
// before the first Record.
func (r *Recorder) SetSchedule(rate float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open, r.rate = true, rate
}

// Inflight is the gauge of calls in flight of this action.
func (r *Recorder) Inflight() prometheus.Gauge { return r.inflight }

// Lanes sets the gauge of the scheduler threads handing out this open
// loop's arrivals, and keeps the most there were (Result.Lanes).
func (r *Recorder) Lanes(n int) {
	r.lanes.Set(float64(n))
	for {
		m := r.lanesMax.Load()
		if int32(n) <= m || r.lanesMax.CompareAndSwap(m, int32(n)) {
			return
		}
	}
}

// Tap makes the recorder pass every outcome to f as well, before it is
// recorded (for exports of raw samples and for tests). Call it before the
// first Record.
func (r *Recorder) Tap(f func(Outcome)) { r.tap = f }

// Record records one finished call.
func (r *Recorder) Record(o Outcome) { record(r, &r.mu, &r.exact, o) }

// record records one finished call into e, under mu (the Recorder's or a
// shard's).
func record(r *Recorder, mu *sync.Mutex, e *exact, o Outcome) {
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
	taken := o.Dispatched
	if taken.IsZero() {
		taken = o.Start
	}
	gl := max(taken.Sub(o.Intended), 0)
	if o.Open {
		r.lazy.lagOf(r).Observe(max(o.Start.Sub(o.Intended), 0).Seconds())
		r.lazy.genLagOf(r).Observe(gl.Seconds())
	}
	for _, reason := range o.Retries {
		r.m.Retries.WithLabelValues(r.scenario, r.action, reason).Inc()
	}
	if o.Intended.Before(r.measureAt) {
		return
	}
	r.slo.Record(latency, o.ErrClass == "")
	x := o.Intended.Sub(r.start).Seconds()
	mu.Lock()
	defer mu.Unlock()
	if o.Open {
		_ = e.lagHdr.RecordValue(min(max(int64(gl), 1), hdrMax))
	}
	e.retries += int64(len(o.Retries))
	e.maxAny = max(e.maxAny, latency)
	if o.ErrClass != "" {
		e.failed++
		e.classes[o.ErrClass]++
		e.bad.add(x, 0)
		return
	}
	e.ok++
	e.lat.add(latency)
	e.taken.add(o.End.Sub(taken))
	e.fit.add(x, latency.Seconds())
}

// Drop records an arrival that was not run because of the in-flight cap,
// found full at now (its generator lag is recorded too: an arrival the
// generator reached late is late whatever became of it).
func (r *Recorder) Drop(intended, now time.Time) {
	r.dropped.Inc()
	gl := max(now.Sub(intended), 0)
	r.lazy.genLagOf(r).Observe(gl.Seconds())
	if intended.Before(r.measureAt) {
		return
	}
	r.slo.Drop()
	r.mu.Lock()
	_ = r.lagHdr.RecordValue(min(max(int64(gl), 1), hdrMax))
	r.drops++
	r.bad.add(intended.Sub(r.start).Seconds(), 0)
	r.mu.Unlock()
}

// Miss records n arrivals of the schedule, due from the intended time
// from on, that the generator could not issue before the phase's deadline.
// They are bad events, and the generator's fault: the target was never
// offered them.
func (r *Recorder) Miss(from time.Time, n int64) {
	if n <= 0 {
		return
	}
	r.dropped.Add(float64(n))
	r.m.Errors.WithLabelValues(r.scenario, r.action, ClassMissed).Add(float64(n))
	r.slo.DropN(n)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missed += n
	r.classes[ClassMissed] += n
	if from.Before(r.measureAt) {
		from = r.measureAt
	}
	r.bad.addN(from.Sub(r.start).Seconds(), 0, float64(n))
}

// Latency is a set of exact latency statistics of one iteration, in
// seconds. +Inf means that the statistic's rank falls on a bad event (a
// failed, timed-out, dropped or cut-off arrival, slower than any limit);
// NaN means there was nothing to measure.
type Latency struct {
	P50, P95, P99, Max, Avg float64
	// Min is the fastest successful call.
	Min float64
	// Slope is the latency drift, seconds of latency per second of phase
	// (linear fit).
	Slope float64
}

// Stat returns a statistic by its name (p50, p95, p99, max, avg, min,
// slope); NaN for an unknown name.
func (l Latency) Stat(name string) float64 {
	switch name {
	case "p50":
		return l.P50
	case "p95":
		return l.P95
	case "p99":
		return l.P99
	case "max":
		return l.Max
	case "avg":
		return l.Avg
	case "min":
		return l.Min
	case "slope":
		return l.Slope
	}
	return math.NaN()
}

// Result is the exact outcome of one action over one iteration's
// measured window (the load phase less its warm-up).
type Result struct {
	Scenario, Action string
	// Window is the measured time the QPS is computed over.
	Window time.Duration
	// Open tells whether the action ran in an open loop.
	Open bool
	// Events counts the arrivals (open loop) or calls (closed loop) of
	// the window: OK + Failed + Dropped + Missed.
	Events int64
	// Calls counts finished calls; OK and Failed split them (Failed
	// includes calls cut off at the end of the drain).
	Calls, OK, Failed int64
	// Dropped counts arrivals not run because of the in-flight cap.
	Dropped int64
	// Missed counts arrivals the generator could not issue before the
	// phase's deadline.
	Missed int64
	// Retries counts retries made by the calls.
	Retries int64
	// Rate is an open loop's configured mean rate over the window (its
	// schedule's expectation), arrivals per second; 0 for a closed loop.
	Rate float64
	// OfferedQPS is the arrivals the schedule actually offered in the
	// window, per second (open loops; the draw of a random schedule varies
	// around Rate).
	OfferedQPS float64
	// ServedQPS is successful calls per second of the window.
	ServedQPS float64
	// QPS is the figure a qps guarantee judges. Open loop: the share of
	// offered arrivals served successfully times the configured rate
	// (OK/Events × Rate), so a target that serves every arrival meets any
	// guarantee up to the rate whatever the random draw. Closed loop:
	// ServedQPS.
	QPS float64
	// SLO is what latency guarantees judge: statistics over every event,
	// bad events counted as slower than any limit.
	SLO Latency
	// Success is the same statistics over successful calls only (NaN when
	// there were none).
	Success Latency
	// Taken is SLO's figures (but the slope) measured from when a worker
	// took each arrival up instead of from its intended start: what the
	// target and the wait for a connection account for, the generator's
	// own lateness left out. Equal to SLO's for closed loops.
	Taken Latency
	// ErrorRatio is bad events over all events (dropped and missed
	// arrivals count: the system did not serve them).
	ErrorRatio float64
	// ErrorClasses counts failures by class.
	ErrorClasses map[string]int64
	// GeneratorLagP99 and GeneratorLagMax are, for open loops, how late
	// the generator took arrivals up (intended → a worker began it, or
	// found the cap full), in seconds; NaN for closed loops.
	GeneratorLagP99, GeneratorLagMax float64
	// GeneratorFault, set when the iteration is judged, says why the
	// generator rather than the target is to blame; "" when it is not.
	GeneratorFault string
	// Lanes is, for an open loop, the most scheduler threads that handed
	// out its arrivals at once in the phase: 1, more when it split (0
	// when it was never told, as for closed loops).
	Lanes int
	// Hist is the distribution of the successful calls' latencies (a
	// copy, values in ns), for results that merge exactly; with Events,
	// OK and the bad counts it gives the judged figures too. nil when no
	// call succeeded.
	Hist *hdrhistogram.Histogram
}

// Bad returns the number of bad events.
func (r Result) Bad() int64 { return r.Failed + r.Dropped + r.Missed }

// Stat returns the judged (SLO) latency statistic by its name.
func (r Result) Stat(name string) float64 { return r.SLO.Stat(name) }

// Result computes the exact result of the window that ended at end.
func (r *Recorder) Result(end time.Time) Result {
	e := r.merged()
	window := end.Sub(r.measureAt)
	events := e.ok + e.failed + e.drops + e.missed
	res := Result{
		Scenario: r.scenario, Action: r.action, Window: window, Open: r.open,
		Events: events, Calls: e.ok + e.failed, OK: e.ok, Failed: e.failed,
		Dropped: e.drops, Missed: e.missed, Retries: e.retries,
		ErrorClasses:    map[string]int64{},
		GeneratorLagP99: math.NaN(), GeneratorLagMax: math.NaN(),
		Lanes: int(r.lanesMax.Load()),
	}
	for k, v := range e.classes {
		res.ErrorClasses[k] = v
	}
	if window > 0 {
		res.ServedQPS = float64(e.ok) / window.Seconds()
		res.QPS = res.ServedQPS
		if r.open {
			res.Rate = r.rate
			res.OfferedQPS = float64(events) / window.Seconds()
			if events > 0 {
				res.QPS = float64(e.ok) / float64(events) * r.rate
			}
		}
	}
	if events > 0 {
		res.ErrorRatio = float64(events-e.ok) / float64(events)
	}
	if e.ok > 0 {
		res.Hist = e.lat.hdr.Clone()
	}
	res.Success = e.latency(&e.lat, e.ok)
	res.SLO = e.latency(&e.lat, events)
	res.Taken = e.latency(&e.taken, events)
	res.Taken.Slope = res.SLO.Slope
	if r.open && e.lagHdr.TotalCount() > 0 {
		res.GeneratorLagP99 = float64(quantile(e.lagHdr, 99, 0, time.Duration(e.lagHdr.Max()))) / 1e9
		res.GeneratorLagMax = float64(e.lagHdr.Max()) / 1e9
	}
	return res
}

// latency gives the statistics of the successful calls' distribution d
// ranked among n events, the n − ok bad ones slower than any of them.
func (r *exact) latency(d *dist, n int64) Latency {
	nan := math.NaN()
	l := Latency{P50: nan, P95: nan, P99: nan, Max: nan, Avg: nan, Min: nan, Slope: nan}
	if n == 0 || r.ok == 0 {
		if n > 0 { // events, none of them good: every rank is a bad one
			inf := math.Inf(1)
			l.P50, l.P95, l.P99, l.Max, l.Avg = inf, inf, inf, inf, inf
		}
		return l
	}
	bad := n > r.ok
	l.Min = d.min.Seconds()
	l.Max, l.Avg = d.max.Seconds(), d.sum/float64(r.ok)
	if bad {
		l.Max, l.Avg = math.Inf(1), math.Inf(1)
	}
	for _, q := range []struct {
		p   float64
		out *float64
	}{{50, &l.P50}, {95, &l.P95}, {99, &l.P99}} {
		// Nearest rank among the n events: the ⌈p·n⌉-th smallest. Bad
		// events rank above every successful call.
		k := int64(math.Ceil(q.p / 100 * float64(n)))
		if k > r.ok {
			*q.out = math.Inf(1)
			continue
		}
		*q.out = quantileRank(d.hdr, k, d.min, d.max).Seconds()
	}
	l.Slope = r.fit.slope()
	if bad {
		// Bad events enter the fit as calls as slow as the slowest call
		// of the window (successful or failed: a timeout shows its
		// timeout). That keeps a target degrading into failures from
		// looking flatter than it was: a slow call that turns into a
		// failure keeps at least its latency in the fit, and failures that
		// start during the phase pull the end of the line up. The fit
		// over successful calls alone can still be the steeper one (say,
		// failures early in the phase that stopped later), so the figure
		// judged is the steeper of the two: calls starting to fail can
		// never lower it below what the successful calls alone show.
		c := r.maxAny.Seconds()
		all := r.fit
		all.n += r.bad.n
		all.sx += r.bad.sx
		all.sxx += r.bad.sxx
		all.sy += c * r.bad.n
		all.sxy += c * r.bad.sx
		l.Slope = max(l.Slope, all.slope())
	}
	return l
}

// quantile gives the value at the percentile p of h by the nearest-rank
// definition, within the exact extremes lo and hi.
func quantile(h *hdrhistogram.Histogram, p float64, lo, hi time.Duration) time.Duration {
	n := h.TotalCount()
	return quantileRank(h, int64(math.Ceil(p/100*float64(n))), lo, hi)
}

// quantileRank gives the k-th smallest value of h (k counts from 1) as the
// midpoint of the HDR bucket that holds it (so within half a bucket, 0.05%,
// of the sample), never beyond the exact extremes lo and hi.
func quantileRank(h *hdrhistogram.Histogram, k int64, lo, hi time.Duration) time.Duration {
	n := h.TotalCount()
	k = min(max(k, 1), n)
	// HDR ranks by rounding p·n; ask for the percentile that rounds to k.
	v := h.ValueAtPercentile((float64(k) - 0.25) / float64(n) * 100)
	// The smallest value equivalent to v, by bisection (the library does
	// not export it): equivalence ranges are contiguous.
	a, b := v/2, v
	for a < b {
		m := a + (b-a)/2
		if h.ValuesAreEquivalent(m, v) {
			b = m
		} else {
			a = m + 1
		}
	}
	mid := a + (v-a)/2
	return min(max(time.Duration(mid), lo), hi)
}

// linearFit accumulates an ordinary least-squares fit of y on x.
type linearFit struct {
	n, sx, sy, sxx, sxy float64
}

func (f *linearFit) add(x, y float64) { f.addN(x, y, 1) }

// addFit adds the points of o.
func (f *linearFit) addFit(o *linearFit) {
	f.n += o.n
	f.sx += o.sx
	f.sy += o.sy
	f.sxx += o.sxx
	f.sxy += o.sxy
}

// addN adds the point (x, y) w times.
func (f *linearFit) addN(x, y, w float64) {
	f.n += w
	f.sx += w * x
	f.sy += w * y
	f.sxx += w * x * x
	f.sxy += w * x * y
}

// slope is (nΣxy − ΣxΣy) / (nΣx² − (Σx)²); 0 when x does not vary
// (no drift can be seen), NaN without a point.
func (f *linearFit) slope() float64 {
	if f.n == 0 {
		return math.NaN()
	}
	d := f.n*f.sxx - f.sx*f.sx
	if f.n < 2 || math.Abs(d) < 1e-12 {
		return 0
	}
	return (f.n*f.sxy - f.sx*f.sy) / d
}
