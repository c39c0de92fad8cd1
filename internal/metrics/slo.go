package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Objective is one guarantee seen as a service-level objective: every
// event (an open loop's intended arrival, a closed loop's call) after the
// warm-up is good or bad, and at most Budget of them may be bad.
type Objective struct {
	// Stat names the guarantee: p50, p95, p99 or error_ratio.
	Stat string
	// Limit is the latency a good event stays within, for a latency
	// guarantee; 0 for error_ratio (any successful call is good).
	Limit time.Duration
	// Budget is the fraction of events allowed to be bad: 1 − q for a
	// quantile q (0.01 for p99), the configured maximum for error_ratio.
	Budget float64
}

// SLOMetrics counts good and bad events against each objective of each
// action, continuously across iterations, pauses and restarts (counters),
// so that alert rules compute burn rates over any window:
//
//	pbenchd_slo_good_total{scenario, action, stat}
//	pbenchd_slo_bad_total{scenario, action, stat}
//	pbenchd_slo_error_budget_ratio{scenario, action, stat}
//
// A call that succeeded within the objective's limit is good; a failed,
// timed-out or dropped one is bad, as is a success slower than the limit.
type SLOMetrics struct {
	Good   *prometheus.CounterVec
	Bad    *prometheus.CounterVec
	Budget *prometheus.GaugeVec

	mu   sync.Mutex
	objs map[[2]string][]Objective // by {scenario, action}
}

func newSLOMetrics() *SLOMetrics {
	labels := []string{"scenario", "action", "stat"}
	return &SLOMetrics{
		Good: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "slo_good_total",
			Help: "Events (arrivals of open loops, calls of closed loops) after warm-up that met the guarantee: succeeded, within its latency limit for a latency stat."}, labels),
		Bad: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "slo_bad_total",
			Help: "Events after warm-up that did not meet the guarantee: failed, dropped, or slower than its latency limit."}, labels),
		Budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "slo_error_budget_ratio",
			Help: "The fraction of events a guarantee allows to be bad: 0.01 for p99, 0.05 for p95, 0.5 for p50, the maximum for error_ratio."}, labels),
		objs: map[[2]string][]Objective{},
	}
}

// Configure sets the objectives of every action of a scenario (by action
// name), replacing those it had, and publishes their budgets. Objectives
// with a budget outside (0, 1) are left out: no burn rate exists for them.
func (s *SLOMetrics) Configure(scenario string, byAction map[string][]Objective) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(scenario, false)
	for action, objs := range byAction {
		objs = slices.DeleteFunc(slices.Clone(objs), func(o Objective) bool { return !(o.Budget > 0 && o.Budget < 1) })
		if len(objs) == 0 {
			continue
		}
		s.objs[[2]string{scenario, action}] = objs
		for _, o := range objs {
			s.Budget.WithLabelValues(scenario, action, o.Stat).Set(o.Budget)
		}
	}
}

// forget removes a scenario's objectives and every series of them.
func (s *SLOMetrics) forget(scenario string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetLocked(scenario, true)
}

// forgetLocked drops the objectives of a scenario and their budgets, and
// its counters too when counters is set (the scenario is gone). A reload
// keeps the counters: burn rates over a window that spans it need them.
func (s *SLOMetrics) forgetLocked(scenario string, counters bool) {
	l := prometheus.Labels{"scenario": scenario}
	for k := range s.objs {
		if k[0] == scenario {
			delete(s.objs, k)
		}
	}
	s.Budget.DeletePartialMatch(l)
	if counters {
		s.Good.DeletePartialMatch(l)
		s.Bad.DeletePartialMatch(l)
	}
}

// Events returns the counters of an action's objectives for one phase,
// created now if they do not exist yet (so they exist from the first phase
// that can feed them), or nil when the action has none. A measurement core
// that does not go through Recorder counts through it.
func (s *SLOMetrics) Events(scenario, action string) *SLOEvents {
	s.mu.Lock()
	objs := s.objs[[2]string{scenario, action}]
	s.mu.Unlock()
	if len(objs) == 0 {
		return nil
	}
	e := &SLOEvents{counters: make([]sloCounter, len(objs))}
	for i, o := range objs {
		e.counters[i] = sloCounter{
			limit:   o.Limit,
			latency: o.Stat != "error_ratio",
			good:    s.Good.WithLabelValues(scenario, action, o.Stat),
			bad:     s.Bad.WithLabelValues(scenario, action, o.Stat),
		}
	}
	return e
}

// SLOEvents counts one action's events during one phase, from any
// goroutine. A nil *SLOEvents counts nothing.
type SLOEvents struct {
	counters []sloCounter
}

type sloCounter struct {
	limit     time.Duration
	latency   bool
	good, bad prometheus.Counter
}

// Record counts a finished call after the warm-up: ok tells whether it
// succeeded, latency is its response time from its intended start.
func (e *SLOEvents) Record(latency time.Duration, ok bool) {
	if e == nil {
		return
	}
	for i := range e.counters {
		c := &e.counters[i]
		if ok && (!c.latency || latency <= c.limit) {
			c.good.Inc()
		} else {
			c.bad.Inc()
		}
	}
}

// Drop counts an arrival after the warm-up that was never run: bad
// against every objective.
func (e *SLOEvents) Drop() {
	if e == nil {
		return
	}
	for i := range e.counters {
		e.counters[i].bad.Inc()
	}
}

// DropN counts n arrivals that were never run (the generator missed them):
// bad against every objective.
func (e *SLOEvents) DropN(n int64) {
	if e == nil || n <= 0 {
		return
	}
	for i := range e.counters {
		e.counters[i].bad.Add(float64(n))
	}
}
