package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/engine"
)

// CapacityFormats are the formats report capacity prints in.
var CapacityFormats = []string{"table", "markdown", "csv", "json"}

// CapacityRow is one probe of one iteration, as report capacity prints it.
type CapacityRow struct {
	Time     time.Time              `json:"time"`
	Source   string                 `json:"source"`
	Scenario string                 `json:"scenario"`
	Result   string                 `json:"result"`
	Probe    engine.ProbeJSON       `json:"probe"`
	Steps    []engine.ProbeStepJSON `json:"-"`
}

// WriteCapacity prints the rows in a format (CapacityFormats): a row
// each, then with curve each probe's steps; withSource adds the column
// of the source each row was read from.
func WriteCapacity(w io.Writer, rows []CapacityRow, curve bool, format string, withSource bool) error {
	if format == "json" {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		if !curve {
			for i := range rows {
				rows[i].Probe.Steps = nil
			}
		}
		return e.Encode(rows)
	}
	render := func(t table.Writer) {
		switch format {
		case "markdown":
			t.RenderMarkdown()
		case "csv":
			t.RenderCSV()
		default:
			t.SetStyle(table.StyleLight)
			t.Render()
		}
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	head := table.Row{"time", "scenario", "action", "capacity", "reason", "steps", "iteration"}
	if withSource {
		head = append(head, "source")
	}
	t.AppendHeader(head)
	for _, r := range rows {
		row := table.Row{r.Time.UTC().Format(time.RFC3339), r.Scenario, r.Probe.Action, rate(r.Probe.Capacity), r.Probe.Reason, len(r.Steps), r.Result}
		if withSource {
			row = append(row, r.Source)
		}
		t.AppendRow(row)
	}
	render(t)
	if !curve {
		return nil
	}
	for _, r := range rows {
		fmt.Fprintf(w, "\n%s %s/%s: capacity %s (%s)\n", r.Time.UTC().Format(time.RFC3339), r.Scenario, r.Probe.Action, rate(r.Probe.Capacity), r.Probe.Reason)
		c := table.NewWriter()
		c.SetOutputMirror(w)
		c.AppendHeader(table.Row{"step", "rate", "served", "p50", "p99", "error ratio", "outcome"})
		for i, st := range r.Steps {
			c.AppendRow(table.Row{i, rate(st.Rate), rate(st.Result.ServedQPS), seconds(float64(st.Result.P50)), seconds(float64(st.Result.P99)),
				strconv.FormatFloat(st.Result.ErrorRatio, 'g', 4, 64), st.Outcome})
		}
		render(c)
	}
	return nil
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// seconds prints a latency given in seconds as a duration; ∞ for a
// latency of bad events (beyond any limit), - for none.
func seconds(s float64) string {
	switch {
	case s != s:
		return "-"
	case s > 1e300:
		return "∞"
	}
	return time.Duration(s * 1e9).Round(time.Microsecond).String()
}
