package config

import (
	"math"
	"time"
)

// PacingCeiling is the highest rate, in arrivals per second, that pbenchd
// paces for one open-loop action. The generator's own cost is 3.6–4.3 µs
// of CPU per arrival (a worker goroutine, the clock, the recorder:
// BenchmarkOpenLoop in internal/engine on a 2-core machine at load
// average 15), so 100,000/s takes about 0.4 of a core before any work of
// the action itself; faster, one action's generator would fall behind on
// the machines pbenchd runs on, and the schedule could not be kept. check
// refuses a faster schedule.
const PacingCeiling = 100_000

// DefaultCallLatency is the latency assumed per call to size the
// connections of an action whose guarantees set no latency.
const DefaultCallLatency = 10 * time.Millisecond

// MaxDefaultConnections bounds the connections pbenchd opens for an action
// by default, so a default does not fill a server's connection slots
// (PostgreSQL allows 100 for all clients together).
const MaxDefaultConnections = 64

// CarryLatency is the latency at which an action's load must be carried:
// the smallest latency limit its guarantees set (p50, p95, p99, max, avg),
// 0 when none is set. A target whose every call takes exactly that long
// meets every latency guarantee, and by Little's law keeps rate × that
// many calls in flight, each on a connection of its own; so a cap or
// connection count below that would have pbenchd drop or queue arrivals
// of a target that meets its guarantees.
func CarryLatency(g Guarantee) time.Duration {
	var out time.Duration
	for _, d := range []Duration{g.P50, g.Avg, g.P95, g.P99, g.Max} {
		if d.D > 0 && (out == 0 || d.D < out) {
			out = d.D
		}
	}
	return out
}

// tailLatency is the largest latency limit of g, 0 when none is set.
func tailLatency(g Guarantee) time.Duration {
	var out time.Duration
	for _, d := range []Duration{g.P50, g.Avg, g.P95, g.P99, g.Max} {
		out = max(out, d.D)
	}
	return out
}

// InFlightNeeded is how many calls a target that takes latency per call
// has in flight at rate arrivals per second (Little's law: L = λW),
// rounded up.
func InFlightNeeded(rate float64, latency time.Duration) int {
	return int(math.Ceil(rate*latency.Seconds() - 1e-9))
}

// DefaultMaxInflight is an open loop's cap on calls in flight when
// max_inflight is not set: its peak rate over the phase times the longer
// of 1 s and twice its largest latency guarantee (room for calls up to
// twice as slow as the guarantees allow before any arrival is dropped),
// between 16 and the ceiling of max_inflight.
func DefaultMaxInflight(peak float64, g Guarantee) int {
	w := max(time.Second, 2*tailLatency(g))
	return min(max(InFlightNeeded(peak, w), 16), maxInflightCeiling)
}

// DefaultConnections is how many connections an open loop's calls share
// when the action does not say: enough to carry its peak rate with every
// call taking its carry latency (DefaultCallLatency without a latency
// guarantee), at least 1, at most MaxDefaultConnections and the cap.
func DefaultConnections(peak float64, g Guarantee, maxInflight int) int {
	l := CarryLatency(g)
	if l == 0 {
		l = DefaultCallLatency
	}
	return min(max(InFlightNeeded(peak, l), 1), MaxDefaultConnections, maxInflight)
}
