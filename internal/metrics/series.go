package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// lazyObservers are the histograms of an action that many actions never
// feed: the response time of failed calls, and schedule lag (open loops
// only). Each is created at its first observation, so an action without
// failures, or a closed loop, exports no histogram that is always empty
// (37 buckets each).
type lazyObservers struct {
	errOnce, lagOnce, genLagOnce sync.Once
	err, lag, genLag             prometheus.Observer
}

func (l *lazyObservers) latErr(r *Recorder) prometheus.Observer {
	l.errOnce.Do(func() { l.err = r.m.Latency.WithLabelValues(r.scenario, r.action, "error") })
	return l.err
}

func (l *lazyObservers) genLagOf(r *Recorder) prometheus.Observer {
	l.genLagOnce.Do(func() { l.genLag = r.m.GeneratorLag.WithLabelValues(r.scenario, r.action) })
	return l.genLag
}

func (l *lazyObservers) lagOf(r *Recorder) prometheus.Observer {
	l.lagOnce.Do(func() { l.lag = r.m.Lag.WithLabelValues(r.scenario, r.action) })
	return l.lag
}
