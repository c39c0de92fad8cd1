package action_test

import (
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestSQLFreshnessCheck checks the settings of the sql_freshness kind as
// config validation sees them, spread (the random wait before each marker)
// included.
func TestSQLFreshnessCheck(t *testing.T) {
	const path = "f.yaml: phases[0].load.actions[0].sql_freshness"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "minimal", yaml: "sql_freshness: {write: INSERT INTO t VALUES ($1), read: SELECT 1 FROM v WHERE m = $1}"},
		{name: "spread of a refresh period", yaml: "sql_freshness: {write: W, read: R, spread: 2s, interval: 10ms, timeout: 1m}"},
		{name: "no spread", yaml: "sql_freshness: {write: W, read: R, spread: 0s}"},
		{
			name: "negative spread",
			yaml: "sql_freshness: {write: W, read: R, spread: -1s}",
			want: []string{`{path}.spread: "-1s": a duration must not be negative`},
		},
		{
			name: "nothing to write or read",
			yaml: "sql_freshness: {spread: 1s}",
			want: []string{
				"{path}.write: missing: the statement that writes marker $1",
				"{path}.read: missing: the query that returns a row once marker $1 is visible",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := yaml.Parser().Unmarshal([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = action.Kinds.Decode("sql_freshness", doc["sql_freshness"], path, config.Target{Kind: "postgres"})
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strings.ReplaceAll(w, "{path}", path)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
