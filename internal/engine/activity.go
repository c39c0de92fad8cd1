package engine

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Activity says what an engine is busy with when that may take long
// (teardown steps, the calls of a phase), so that a second stop signal
// can be answered with what the stop waits for. Safe for concurrent use.
type Activity struct {
	mu sync.Mutex
	m  map[string]activity // by scenario
}

type activity struct {
	what  string
	since time.Time
}

// set records what the scenario is doing; "" clears it.
func (a *Activity) set(scenario, what string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if what == "" {
		delete(a.m, scenario)
		return
	}
	if a.m == nil {
		a.m = map[string]activity{}
	}
	a.m[scenario] = activity{what: what, since: time.Now()}
}

// String says what is under way and for how long ("" when nothing is),
// one item per scenario, sorted.
func (a *Activity) String() string {
	if a == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, v := range a.m {
		out = append(out, v.what+", for "+time.Since(v.since).Round(time.Second).String())
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// Activity returns what the engine is busy with.
func (e *Engine) Activity() *Activity { return e.activity }
