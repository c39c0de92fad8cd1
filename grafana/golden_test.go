package grafana

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the dashboards in their canonical form")

// TestDashboardsGolden keeps each dashboard file in one canonical form
// (keys sorted, two-space indent, no duplicate keys lost to a parse), so a
// change to a dashboard shows in review as the change it is. Run
// `go test ./grafana -run Golden -update` after editing one in Grafana.
func TestDashboardsGolden(t *testing.T) {
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s is not JSON: %v", f, err)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(b, want.Bytes()) {
				return
			}
			if *update {
				if err := os.WriteFile(f, want.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Errorf("%s is not in canonical form: run `go test ./grafana -run Golden -update` and review the diff", f)
		})
	}
}
