package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// Build identifies the pbenchd that measured a result.
type Build struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	GoVersion string `json:"goversion"`
}

// ThisBuild is the running binary's build.
func ThisBuild() Build {
	return Build{Version: metrics.Version, Revision: metrics.Revision(), GoVersion: runtime.Version()}
}

// Results is the last iteration of every scenario, as /api/v1/results and
// `pbenchd once --results FILE` give it, and as --baseline reads it.
type Results struct {
	Build   Build                    `json:"build"`
	Results map[string]IterationJSON `json:"results"`
}

// NewResults collects iterations (the stopped ones left out).
func NewResults(its []*Iteration) Results {
	r := Results{Build: ThisBuild(), Results: map[string]IterationJSON{}}
	for _, it := range its {
		if !it.Stopped {
			r.Results[it.Scenario] = it.JSON()
		}
	}
	return r
}

// WriteFile saves the results as indented JSON.
func (r Results) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResults reads results written by WriteFile or served by the API.
func ReadResults(rd io.Reader, name string) (Results, error) {
	var r Results
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return r, fmt.Errorf("%s: not pbenchd results: %w", name, err)
	}
	if r.Results == nil {
		return r, fmt.Errorf("%s: not pbenchd results: no \"results\" key", name)
	}
	return r, nil
}

// stats turns results into the statistics regression checks compare:
// reported actions of iterations that were not errors.
func (r Results) stats() map[string]map[string]guarantee.Stats {
	out := map[string]map[string]guarantee.Stats{}
	for sc, it := range r.Results {
		if it.Result == Error {
			continue
		}
		for _, a := range it.Actions {
			if !a.Reported {
				continue
			}
			if out[sc] == nil {
				out[sc] = map[string]guarantee.Stats{}
			}
			out[sc][a.Action] = guarantee.Stats{QPS: a.QPS, P50: float64(a.P50), P95: float64(a.P95), P99: float64(a.P99), Max: float64(a.Max), Avg: float64(a.Avg), Capacity: math.NaN()}
		}
		for _, p := range it.Probes {
			if out[sc] == nil {
				out[sc] = map[string]guarantee.Stats{}
			}
			nan := math.NaN()
			out[sc][p.Action] = guarantee.Stats{QPS: nan, P50: nan, P95: nan, P99: nan, Max: nan, Avg: nan, Capacity: p.Capacity}
		}
	}
	return out
}

// CompareBaseline compares this run with a baseline run, with each
// action's thresholds: the defaults, then the scenario's `regression`
// overrides.
func CompareBaseline(cfg *config.Config, this, base Results) []guarantee.Comparison {
	return guarantee.Compare(this.stats(), base.stats(), func(scenario, action string) guarantee.Thresholds {
		th := guarantee.DefaultThresholds()
		if sc := cfg.Scenario(scenario); sc != nil {
			for stat, v := range sc.Regression[action] {
				th[stat] = v
			}
		}
		return th
	})
}

// ResultsLog appends every finished iteration as one JSON line to a file,
// synced to disk, so that history survives restarts without Prometheus.
type ResultsLog struct {
	mu sync.Mutex
	f  *os.File
	// Torn is how many bytes of a last line cut short OpenResultsLog
	// removed.
	Torn int64
}

// OpenResultsLog opens (or creates) the log for appending. A last line
// cut short (the process killed mid-write, a full disk) is removed first,
// so that every line of the file is whole; Torn tells how many bytes were.
func OpenResultsLog(path string) (*ResultsLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &ResultsLog{f: f}
	if err := l.repair(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: removing a torn last line: %w", path, err)
	}
	return l, nil
}

// repair truncates the file after its last newline.
func (l *ResultsLog) repair() error {
	st, err := l.f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	size := st.Size()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := l.f.ReadAt(buf[:end-start], start)
		if err != nil && n < int(end-start) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			l.Torn = size - keep
			if l.Torn == 0 {
				return nil
			}
			return l.f.Truncate(keep)
		}
		end = start
	}
	l.Torn = size
	return l.f.Truncate(0)
}

// Append writes one iteration with the build that measured it, in one
// write; a write that fails part way is undone, so no torn line stays.
func (l *ResultsLog) Append(it *Iteration) error {
	line := struct {
		Build Build `json:"build"`
		IterationJSON
	}{ThisBuild(), it.JSON()}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		if terr := l.f.Truncate(st.Size()); terr != nil {
			return errors.Join(err, fmt.Errorf("undoing the torn line: %w", terr))
		}
		return err
	}
	return l.f.Sync()
}

// Close closes the log.
func (l *ResultsLog) Close() error { return l.f.Close() }
