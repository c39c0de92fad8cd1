package metrics

import "github.com/prometheus/client_golang/prometheus"

// ProbeStats are the per-step statistics of a probe's curve, in order:
// the rate offered, the rate served (successful calls a second), the
// exact p50 and p99, and the error ratio.
var ProbeStats = []string{"rate", "served", "p50", "p99", "error_ratio"}

// ProbeMetrics are the gauges of capacity probes: the capacity found by
// the last finished probe of each action, and that probe's curve.
type ProbeMetrics struct {
	// Capacity is the highest rate that held inside the SLO.
	Capacity *prometheus.GaugeVec // scenario, action
	// Curve holds one value per step and stat; step is the step's index
	// (bounded by the search's step limit).
	Curve *prometheus.GaugeVec // scenario, action, step, stat
	// DropMax is the configured largest drop of capacity against its
	// 7-day median, a fraction, for the alert rule to compare with.
	DropMax *prometheus.GaugeVec // scenario, action
}

func newProbeMetrics(reg prometheus.Registerer) ProbeMetrics {
	p := ProbeMetrics{
		Capacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "capacity_qps",
			Help: "Highest arrival rate the last finished probe found served inside the SLO, per second."}, []string{"scenario", "action"}),
		Curve: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "capacity_curve",
			Help: "One step of the last finished probe: rate offered, served, p50 and p99 (seconds), error ratio."}, []string{"scenario", "action", "step", "stat"}),
		DropMax: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "capacity_drop_max",
			Help: "Configured largest drop of a probe's capacity against its 7-day median, as a fraction."}, []string{"scenario", "action"}),
	}
	reg.MustRegister(p.Capacity, p.Curve, p.DropMax)
	return p
}

// forget deletes a scenario's probe series.
func (p ProbeMetrics) forget(l prometheus.Labels) {
	p.Capacity.DeletePartialMatch(l)
	p.Curve.DeletePartialMatch(l)
	p.DropMax.DeletePartialMatch(l)
}
