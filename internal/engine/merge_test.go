package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/metrics"
)

// TestMergeIsTheUnion: three iterations' results, each through its JSON
// and back as a results file or a results log would carry it, merge into
// exactly the result one recorder of all their calls gives: the same
// counts, min, p50, p95, p99 and max to the nanosecond, because the merged
// histogram has the same bucket counts as the union's; and each merged
// quantile is within half an HDR bucket (0.05 % at 3 significant digits) of
// the exact nearest-rank sample of the sorted union.
func TestMergeIsTheUnion(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	const window = 10 * time.Second
	union := m.NewRecorder("s", "a", start, 0)
	rng := rand.New(rand.NewPCG(7, 11))
	var parts []IterationJSON
	var all []time.Duration
	for i := range 3 {
		rec := metrics.New(prometheus.NewRegistry()).NewRecorder("s", "a", start, 0)
		// Different shapes per part (log-normal around 0.2, 2 and 20 ms),
		// so the parts do not share quantiles by accident; some failures
		// and drops.
		for n := range 5000 + 1000*i {
			intended := start.Add(time.Duration(n) * time.Millisecond)
			lat := time.Duration(math.Exp(rng.NormFloat64()*0.8+math.Log(2e5)+float64(i)*math.Log(10))) + 1
			o := metrics.Outcome{Intended: intended, Start: intended, End: intended.Add(lat), Open: true}
			if n%97 == 0 {
				o.ErrClass = "timeout"
			} else {
				all = append(all, lat)
			}
			rec.Record(o)
			union.Record(o)
			if n%131 == 0 {
				rec.Drop(intended, intended)
				union.Drop(intended, intended)
			}
		}
		rec.Lanes(1 + i%2) // the middle part's loop split over 2 lanes
		it := IterationJSON{Scenario: "s", Start: start, Actions: []ActionJSON{actionJSON(rec.Result(start.Add(window)), true)}}
		parts = append(parts, roundTrip(t, it))
	}

	got, err := MergeIterations(parts, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Iterations != 3 {
		t.Fatalf("merged %d actions (%+v), want 1 of 3 iterations", len(got), got)
	}
	g := got[0]
	u := actionJSON(union.Result(start.Add(window)), true)
	if g.Calls != u.Calls || g.Failed != u.Failed || g.Dropped != u.Dropped || g.ErrorClasses["timeout"] != u.ErrorClasses["timeout"] {
		t.Errorf("counts: merged calls %d failed %d dropped %d timeouts %d; union %d %d %d %d",
			g.Calls, g.Failed, g.Dropped, g.ErrorClasses["timeout"], u.Calls, u.Failed, u.Dropped, u.ErrorClasses["timeout"])
	}
	for _, s := range []struct {
		name      string
		got, want float64
	}{
		{"min", float64(g.Success.Min), float64(u.Success.Min)}, {"p50", float64(g.P50), float64(u.P50)},
		{"p95", float64(g.P95), float64(u.P95)}, {"p99", float64(g.P99), float64(u.P99)}, {"max", float64(g.Max), float64(u.Max)},
		{"successful p50", float64(g.Success.P50), float64(u.Success.P50)}, {"successful p99", float64(g.Success.P99), float64(u.Success.P99)},
		{"successful max", float64(g.Success.Max), float64(u.Success.Max)},
	} {
		if s.got != s.want && !(math.IsInf(s.got, 1) && math.IsInf(s.want, 1)) {
			t.Errorf("%s: merged %v, union %v: not exact", s.name, seconds(s.got), seconds(s.want))
		}
	}
	// avg is Σ avg·ok over Σ ok: the parts' means were rounded down to the
	// nanosecond, so the merge is within 1 ns of the union's.
	if d := math.Abs(float64(g.Success.Avg-u.Success.Avg)) * 1e9; d > 1 {
		t.Errorf("avg: merged %v, union %v", g.Success.Avg, u.Success.Avg)
	}
	if g.Events != u.Events || !math.IsInf(float64(g.Avg), 1) {
		t.Errorf("events: merged %d, union %d; judged avg %v, want +Inf (some events were bad)", g.Events, u.Events, g.Avg)
	}
	if g.Lanes != 2 || parts[0].Actions[0].Lanes != 1 {
		t.Errorf("lanes: merged %d, the first part's %d; want the most of any part, 2, and 1", g.Lanes, parts[0].Actions[0].Lanes)
	}
	if g.LatencyHDR != u.LatencyHDR {
		t.Errorf("merged histogram encodes differently from the union's")
	}
	// Three sequential 10 s windows: served QPS is the successful calls
	// over 30 s.
	if want := float64(len(all)) / 30; math.Abs(g.ServedQPS-want) > 1e-9 {
		t.Errorf("served qps: merged %v, want %v", g.ServedQPS, want)
	}
	slices.Sort(all)
	for _, p := range []float64{50, 95, 99} {
		exact := all[int(math.Ceil(p/100*float64(len(all))))-1]
		gp := float64(map[float64]metrics.Float{50: g.Success.P50, 95: g.Success.P95, 99: g.Success.P99}[p])
		if d := math.Abs(gp*1e9 - float64(exact)); d > float64(exact)*0.0005+1 {
			t.Errorf("p%v: merged %v, exact sample %v: off by more than half a bucket", p, seconds(gp), exact)
		}
	}

	// Concurrent instances: QPS adds up, the window is the longest.
	conc, err := MergeIterations(parts, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := parts[0].Actions[0].QPS + parts[1].Actions[0].QPS + parts[2].Actions[0].QPS; conc[0].QPS != want || conc[0].Success.P99 != u.Success.P99 {
		t.Errorf("concurrent: qps %v (want %v), p99 %v (want %v)", conc[0].QPS, want, conc[0].P99, u.P99)
	}
}

// roundTrip passes an iteration through JSON, as a file carries it.
func roundTrip(t *testing.T, it IterationJSON) IterationJSON {
	t.Helper()
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	var out IterationJSON
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadIterations reads a results file and a results log, and names
// the file and line of what is neither.
func TestReadIterations(t *testing.T) {
	one := IterationJSON{Scenario: "b", Actions: []ActionJSON{{Action: "x"}}}
	two := IterationJSON{Scenario: "a", Actions: []ActionJSON{{Action: "y"}}}
	file, _ := json.Marshal(Results{Results: map[string]IterationJSON{"b": one, "a": two}})
	its, err := ReadIterations(bytes.NewReader(file), "r.json")
	if err != nil || len(its) != 2 || its[0].Scenario != "a" || its[1].Scenario != "b" {
		t.Errorf("results file: %+v, %v; want scenarios a, b", its, err)
	}
	l1, _ := json.Marshal(one)
	l2, _ := json.Marshal(two)
	its, err = ReadIterations(bytes.NewReader(slices.Concat(l1, []byte("\n"), l2, []byte("\n"))), "r.jsonl")
	if err != nil || len(its) != 2 || its[0].Scenario != "b" || its[1].Scenario != "a" {
		t.Errorf("results log: %+v, %v; want scenarios b, a", its, err)
	}
	for _, bad := range []struct{ doc, want string }{
		{"", "r: no iteration in it"},
		{string(l1) + "\n{\"x\": 1}\n", `r:2: neither pbenchd results nor a line of a results log: no "scenario" key`},
		{"HISTF", "r:1: neither pbenchd results nor a line of a results log: invalid character"},
	} {
		if _, err := ReadIterations(strings.NewReader(bad.doc), "r"); err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: err %v, want %q", bad.doc, err, bad.want)
		}
	}
	// Results of calls without a distribution cannot be merged exactly.
	old := IterationJSON{Scenario: "s", Actions: []ActionJSON{{Action: "a", Calls: 10, P50: 0.001}}}
	if _, err := MergeIterations([]IterationJSON{old}, false); err == nil || !strings.Contains(err.Error(), "no latency_hdr") {
		t.Errorf("merging results with no latency_hdr: err %v", err)
	}
}
