package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// seriesOf counts the series of a registry whose scenario label is sc, by
// metric family.
func seriesOf(t *testing.T, reg *prometheus.Registry, sc string) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "scenario" && l.GetValue() == sc {
					out[mf.GetName()]++
				}
			}
		}
	}
	return out
}

// TestSeriesCreatedWithDataRemovedWithScenario: a closed loop whose calls
// all succeed exports no schedule-lag and no failed-call histogram; the
// first failure and the first open-loop call create theirs; a removed
// scenario leaves no series at all.
func TestSeriesCreatedWithDataRemovedWithScenario(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.InitScenario("s")
	now := time.Now()
	closed := m.NewRecorder("s", "closed", now, 0)
	closed.Record(Outcome{Intended: now, Start: now, End: now.Add(time.Millisecond)})
	got := seriesOf(t, reg, "s")
	if got["pbenchd_schedule_lag_seconds"] != 0 {
		t.Errorf("a closed loop exports %d schedule-lag histograms, want none", got["pbenchd_schedule_lag_seconds"])
	}
	if got["pbenchd_action_latency_seconds"] != 1 {
		t.Errorf("%d latency histograms before any failure, want 1 (outcome ok)", got["pbenchd_action_latency_seconds"])
	}
	closed.Record(Outcome{Intended: now, Start: now, End: now.Add(time.Millisecond), ErrClass: "timeout"})
	open := m.NewRecorder("s", "open", now, 0)
	open.Record(Outcome{Intended: now, Start: now, End: now.Add(time.Millisecond), Open: true})
	got = seriesOf(t, reg, "s")
	if got["pbenchd_action_latency_seconds"] != 3 || got["pbenchd_schedule_lag_seconds"] != 1 {
		t.Errorf("after a failure and an open-loop call: %d latency and %d lag histograms, want 3 and 1", got["pbenchd_action_latency_seconds"], got["pbenchd_schedule_lag_seconds"])
	}
	m.ForgetScenario("s")
	if got := seriesOf(t, reg, "s"); len(got) != 0 {
		t.Errorf("after ForgetScenario: series left %v", got)
	}
}
