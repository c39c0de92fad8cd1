package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pbenchd/pbenchd/internal/metrics"
)

// ReadIterations reads every iteration of a results file (`pbenchd once
// --results`, /api/v1/results: one iteration per scenario) or of a
// results log (`--results.file`: one iteration per JSON line).
func ReadIterations(rd io.Reader, name string) ([]IterationJSON, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var doc Results
	if json.Unmarshal(b, &doc) == nil && doc.Results != nil {
		out := make([]IterationJSON, 0, len(doc.Results))
		for _, sc := range slices.Sorted(maps.Keys(doc.Results)) {
			out = append(out, doc.Results[sc])
		}
		return out, nil
	}
	var out []IterationJSON
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var it IterationJSON
		if err := json.Unmarshal(line, &it); err != nil || it.Scenario == "" {
			if err == nil {
				err = errors.New(`no "scenario" key`)
			}
			return nil, fmt.Errorf("%s:%d: neither pbenchd results nor a line of a results log: %w", name, i+1, err)
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no iteration in it", name)
	}
	return out, nil
}

// MergedAction is the exact union of one action's calls over several
// iterations (of one pbenchd or several).
type MergedAction struct {
	Scenario string
	// Iterations counts the iterations merged.
	Iterations int
	ActionJSON
}

// MergeIterations merges every action's results over the iterations, by
// scenario and action, in the order they first appear. Counts add up; the
// successful calls' latency distribution is the sum of the histograms, so
// every quantile is the quantile of the union of the calls, exactly as if
// one iteration had made them all, and so are the judged (SLO) figures,
// ranked among all the events with the bad ones slower than any limit;
// min and max are the extremes of the parts; avg is the mean weighted by
// successful calls. Sequential iterations: served QPS is the successful
// calls over the sum of the windows, an open loop's judged QPS the share
// of events served times the time-weighted mean rate. Concurrent ones
// (several pbenchd at once against one target): the QPS figures add up.
// Slope has no exact merge and is NaN.
func MergeIterations(its []IterationJSON, concurrent bool) ([]MergedAction, error) {
	type acc struct {
		m                                   MergedAction
		hist                                *hdrhistogram.Histogram
		ok                                  int64
		avgSum                              float64 // Σ avg·ok, seconds
		qpsSum, servedSum, offeredSum, rSum float64
		rateWin                             float64 // Σ rate·window
		lo, hi                              time.Duration
	}
	var order []string
	accs := map[string]*acc{}
	for _, it := range its {
		for _, a := range it.Actions {
			key := it.Scenario + "\x00" + a.Action
			c := accs[key]
			if c == nil {
				c = &acc{hist: metrics.NewHDR(), m: MergedAction{Scenario: it.Scenario, ActionJSON: ActionJSON{
					Action: a.Action, Reported: a.Reported, ErrorClasses: map[string]int64{},
				}}}
				accs[key] = c
				order = append(order, key)
			}
			ok := a.Calls - a.Failed
			if ok > 0 && a.LatencyHDR == "" {
				return nil, fmt.Errorf("%s/%s (iteration of %s): %d successful calls but no latency_hdr: written by a pbenchd that did not keep distributions, so it cannot be merged exactly",
					it.Scenario, a.Action, it.Start.Format(time.RFC3339), ok)
			}
			h, err := metrics.DecodeHDR(a.LatencyHDR)
			if err != nil {
				return nil, fmt.Errorf("%s/%s (iteration of %s): latency_hdr: %w", it.Scenario, a.Action, it.Start.Format(time.RFC3339), err)
			}
			events := a.Events
			if events == 0 {
				events = a.Calls + a.Dropped + a.Missed
			}
			c.hist.Merge(h)
			c.m.Iterations++
			c.m.Open = c.m.Open || a.Open
			c.m.Events += events
			c.m.Calls += a.Calls
			c.m.Failed += a.Failed
			c.m.Dropped += a.Dropped
			c.m.Missed += a.Missed
			c.m.Retries += a.Retries
			c.m.Lanes = max(c.m.Lanes, a.Lanes) // the most in any one
			for k, v := range a.ErrorClasses {
				c.m.ErrorClasses[k] += v
			}
			c.qpsSum += a.QPS
			c.servedSum += a.ServedQPS
			c.offeredSum += a.OfferedQPS
			c.rSum += a.Rate
			c.rateWin += a.Rate * a.Window
			if concurrent {
				c.m.Window = max(c.m.Window, a.Window)
			} else {
				c.m.Window += a.Window
			}
			if ok > 0 {
				lo, hi := seconds(float64(a.Success.Min)), seconds(float64(a.Success.Max))
				if c.ok == 0 || lo < c.lo {
					c.lo = lo
				}
				c.hi = max(c.hi, hi)
				c.ok += ok
				c.avgSum += float64(a.Success.Avg) * float64(ok)
			}
		}
	}
	nan := metrics.Float(math.NaN())
	inf := metrics.Float(math.Inf(1))
	out := make([]MergedAction, 0, len(order))
	for _, key := range order {
		c := accs[key]
		m := c.m
		switch {
		case concurrent:
			m.QPS, m.ServedQPS, m.OfferedQPS, m.Rate = c.qpsSum, c.servedSum, c.offeredSum, c.rSum
		case m.Window > 0:
			m.ServedQPS = float64(c.ok) / m.Window
			m.QPS = m.ServedQPS
			if m.Open {
				m.OfferedQPS = float64(m.Events) / m.Window
				m.Rate = c.rateWin / m.Window
				if m.Events > 0 {
					m.QPS = float64(c.ok) / float64(m.Events) * m.Rate
				}
			}
		}
		if m.Events > 0 {
			m.ErrorRatio = float64(m.Events-c.ok) / float64(m.Events)
		}
		m.Success = LatencyJSON{Min: nan, P50: nan, P95: nan, P99: nan, Max: nan, Avg: nan, Slope: nan}
		m.P50, m.P95, m.P99, m.Max, m.Avg, m.Slope = nan, nan, nan, nan, nan, nan
		if m.Events > 0 {
			m.P50, m.P95, m.P99, m.Max, m.Avg = inf, inf, inf, inf, inf
		}
		if c.ok > 0 {
			q := func(p float64) metrics.Float { return metrics.Float(metrics.Quantile(c.hist, p, c.lo, c.hi).Seconds()) }
			slo := func(p float64) metrics.Float {
				return metrics.Float(metrics.SLOQuantile(c.hist, p, m.Events, c.lo, c.hi))
			}
			avg := metrics.Float(c.avgSum / float64(c.ok))
			m.Success = LatencyJSON{Min: metrics.Float(c.lo.Seconds()), P50: q(50), P95: q(95), P99: q(99),
				Max: metrics.Float(c.hi.Seconds()), Avg: avg, Slope: nan}
			m.P50, m.P95, m.P99 = slo(50), slo(95), slo(99)
			if m.Events == c.ok {
				m.Max, m.Avg = m.Success.Max, avg
			}
			m.LatencyHDR = metrics.EncodeHDR(c.hist)
		}
		if len(m.ErrorClasses) == 0 {
			m.ErrorClasses = nil
		}
		out = append(out, m)
	}
	return out, nil
}

// seconds turns seconds as the JSON has them back into the Duration they
// were made from (exact below 2⁵³ ns, about 104 days).
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
