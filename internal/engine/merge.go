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
// latency distribution is the sum of the histograms, so every quantile is
// the quantile of the union of the calls, exactly as if one iteration had
// made them all; min and max are the extremes of the parts; avg is the
// mean weighted by successful calls. QPS is the successful calls over the
// sum of the windows when the iterations ran one after another, and the
// sum of the QPS when concurrent (several pbenchd at once against one
// target). Slope has no exact merge and is left 0.
func MergeIterations(its []IterationJSON, concurrent bool) ([]MergedAction, error) {
	type acc struct {
		m      MergedAction
		hist   *hdrhistogram.Histogram
		ok     int64
		avgSum float64 // Σ avg·ok, seconds
		qpsSum float64
		lo, hi time.Duration
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
			c.hist.Merge(h)
			c.m.Iterations++
			c.m.Calls += a.Calls
			c.m.Failed += a.Failed
			c.m.Dropped += a.Dropped
			c.m.Retries += a.Retries
			for k, v := range a.ErrorClasses {
				c.m.ErrorClasses[k] += v
			}
			c.qpsSum += a.QPS
			if concurrent {
				c.m.Window = max(c.m.Window, a.Window)
			} else {
				c.m.Window += a.Window
			}
			if ok > 0 {
				lo, hi := seconds(a.Min), seconds(a.Max)
				if c.ok == 0 || lo < c.lo {
					c.lo = lo
				}
				c.hi = max(c.hi, hi)
				c.ok += ok
				c.avgSum += a.Avg * float64(ok)
			}
		}
	}
	out := make([]MergedAction, 0, len(order))
	for _, key := range order {
		c := accs[key]
		m := c.m
		switch {
		case concurrent:
			m.QPS = c.qpsSum
		case m.Window > 0:
			m.QPS = float64(c.ok) / m.Window
		}
		if total := m.Calls + m.Dropped; total > 0 {
			m.ErrorRatio = float64(m.Failed+m.Dropped) / float64(total)
		}
		if c.ok > 0 {
			q := func(p float64) float64 { return metrics.Quantile(c.hist, p, c.lo, c.hi).Seconds() }
			m.Min, m.Max = c.lo.Seconds(), c.hi.Seconds()
			m.P50, m.P95, m.P99 = q(50), q(95), q(99)
			m.Avg = c.avgSum / float64(c.ok)
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
