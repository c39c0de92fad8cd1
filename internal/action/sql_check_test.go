package action_test

import (
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestSQLCheck checks the settings of the sql action kind as config
// validation sees them: through the registry, decoded from YAML the way a
// scenario file is, with every problem prefixed by the action's key path.
func TestSQLCheck(t *testing.T) {
	const path = "read.yaml: phases[0].load.actions[0].sql"
	pg := config.Target{Kind: "postgres"}
	tests := []struct {
		name string
		// yaml is the action's sql key, as written in a scenario.
		yaml string
		// target is the action's target; nil means a postgres one.
		target *config.Target
		// want is the error, one problem a line ({path} is the key path
		// given to Check); none means the settings are valid.
		want []string
	}{
		// Valid settings.
		{name: "short form", yaml: `sql: SELECT 1`},
		{name: "short form, multi-line", yaml: "sql: |\n  SELECT 1\n  FROM t"},
		{name: "query", yaml: `sql: {query: SELECT 1}`},
		{name: "exec", yaml: `sql: {exec: "INSERT INTO t VALUES (1)"}`},
		{name: "transaction", yaml: `sql: {transaction: ["UPDATE t SET a = 1", "UPDATE u SET b = 2"]}`},
		{name: "statements", yaml: `sql: {statements: ["ALTER SYSTEM SET work_mem = '8MB'", "SELECT pg_reload_conf()"]}`},
		{
			name: "every setting",
			yaml: `
sql:
  query: SELECT * FROM t WHERE a BETWEEN $1 AND $2 AND b = $3 AND c = $4 AND d < $5 AND e = $6
  args:
    - { kind: uniform_int, min: 1, max: 100000 }
    - { kind: sequence, start: 10 }
    - { kind: string, length: 10 }
    - { kind: choice, values: [a, b, 3] }
    - { kind: now }
    - { kind: constant, value: 42 }
  conn: pooled
  connections: 4
  pool_size: 10
  timeout: 5s
  isolation: Repeatable Read
  set: ["SET statement_timeout = '1s'"]
  retries: 0
  mode: simple`,
		},
		{name: "standalone connections", yaml: `sql: {query: SELECT 1, conn: standalone}`},
		{name: "uniform_int over one value", yaml: `sql: {query: SELECT $1, args: [{kind: uniform_int, min: 7, max: 7}]}`},
		{name: "a target of no kind (config reports it)", yaml: `sql: SELECT 1`, target: &config.Target{}},

		// Problems.
		{
			name:   "a kafka target",
			yaml:   `sql: SELECT 1`,
			target: &config.Target{Kind: "kafka"},
			want:   []string{`{path}: a sql action needs a postgres target, not kafka`},
		},
		{
			name: "no statement",
			yaml: `sql: {conn: pooled}`,
			want: []string{`{path}: needs exactly one of query, exec, transaction, statements (found 0)`},
		},
		{
			name: "two statements",
			yaml: `sql: {query: SELECT 1, exec: SELECT 2}`,
			want: []string{`{path}: needs exactly one of query, exec, transaction, statements (found 2)`},
		},
		{
			name: "empty statements in a transaction",
			yaml: `sql: {transaction: ["", "  "]}`,
			want: []string{
				`{path}.transaction[0]: empty statement`,
				`{path}.transaction[1]: empty statement`,
			},
		},
		{
			name: "empty statement in statements",
			yaml: `sql: {statements: ["SELECT 1", ""]}`,
			want: []string{`{path}.statements[1]: empty statement`},
		},
		{
			name: "bad conn, counts, mode, isolation and retries at once",
			yaml: `sql: {query: SELECT 1, conn: shared, connections: -1, pool_size: -2, isolation: snapshot, mode: extended, driver: libpq, retries: -1}`,
			want: []string{
				`{path}.conn: "shared" is not one of pooled, reuse, standalone`,
				`{path}.connections: -1 must not be negative`,
				`{path}.pool_size: -2 must not be negative`,
				`{path}.isolation: "snapshot" is not one of read committed, repeatable read, serializable (for other levels use set: ["SET …"])`,
				`{path}.mode: "extended" is not one of prepared, simple`,
				`{path}.driver: "libpq" is not one of auto, pgx`,
				`{path}.retries: -1 must not be negative`,
			},
		},
		{
			name: "a timeout that is a word",
			yaml: `sql: {query: SELECT 1, timeout: soon}`,
			want: []string{`{path}.timeout: "soon" is not a duration like 120s or 500ms`},
		},
		{
			name: "a timeout without a unit",
			yaml: `sql: {query: SELECT 1, timeout: 5}`,
			want: []string{`{path}.timeout: "5" is not a duration like 120s or 500ms`},
		},
		{
			name: "a negative timeout",
			yaml: `sql: {query: SELECT 1, timeout: -5s}`,
			want: []string{`{path}.timeout: "-5s": a duration must not be negative`},
		},
		{
			name: "a connection count that is a word",
			yaml: `sql: {query: SELECT 1, pool_size: many}`,
			want: []string{`{path}.pool_size: "many" is not an integer`},
		},
		{
			name: "unknown key",
			yaml: `sql: {querry: SELECT 1}`,
			want: []string{`{path}: unknown key "querry"`},
		},
		{
			name: "neither a statement nor a mapping",
			yaml: `sql: [SELECT 1]`,
			want: []string{`{path}: [SELECT 1] is neither a statement nor a mapping like {query: SELECT 1}`},
		},
		{
			name: "arg generators: every problem",
			yaml: `
sql:
  query: SELECT $1, $2, $3, $4, $5, $6, $7
  args:
    - { kind: uniform_int, min: 10, max: 1 }
    - { kind: uniform_int }
    - { kind: string }
    - { kind: choice }
    - { kind: constant }
    - { kind: uniform_float }
    - { min: 1 }`,
			want: []string{
				`{path}.args[0]: min 10 is greater than max 1`,
				`{path}.args[1].min: missing`,
				`{path}.args[1].max: missing`,
				`{path}.args[2].length: 0 is not between 1 and 1048576`,
				`{path}.args[3].values: missing: choice needs at least one value`,
				`{path}.args[4].value: missing`,
				`{path}.args[5].kind: "uniform_float" is not one of choice, constant, now, sequence, string, uniform_int`,
				`{path}.args[6].kind: "" is not one of choice, constant, now, sequence, string, uniform_int`,
			},
		},
		{
			name: "an arg with a key of another kind",
			yaml: `sql: {query: SELECT $1, args: [{kind: sequence, lenght: 3}]}`,
			want: []string{`{path}.args[0]: unknown key "lenght"`},
		},
		{
			name: "an arg bound that is not an integer",
			yaml: `sql: {query: SELECT $1, args: [{kind: uniform_int, min: one, max: 10}]}`,
			want: []string{`{path}.args[0].min: "one" is not an integer`},
		},
		{
			name: "an arg that is not a mapping",
			yaml: `sql: {query: SELECT $1, args: [sequence]}`,
			want: []string{`{path}.args[0]: "sequence" is not a mapping`},
		},
		{
			name: "$2 with one arg",
			yaml: `sql: {query: SELECT $1 + $2, args: [{kind: sequence}]}`,
			want: []string{`{path}.args: the statements use $2 but only 1 arg is given`},
		},
		{
			name: "short form with a placeholder",
			yaml: `sql: SELECT $1`,
			want: []string{`{path}.args: the statements use $1 but no args are given`},
		},
		{
			name: "$10 in one statement of a transaction",
			yaml: `sql: {transaction: ["SELECT $1", "SELECT $10"], args: [{kind: now}, {kind: now}]}`,
			want: []string{`{path}.args: the statements use $10 but only 2 args are given`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.ReplaceAll(strings.Join(tc.want, "\n"), "{path}", path)
			doc, err := yaml.Parser().Unmarshal([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("test YAML: %v", err)
			}
			target := pg
			if tc.target != nil {
				target = *tc.target
			}
			got := ""
			if _, err := action.Kinds.Decode("sql", doc["sql"], path, target); err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestCheckUnknownKind checks the registry's answer for a kind it does not
// hold (config validation lists the kinds before it gets there).
func TestCheckUnknownKind(t *testing.T) {
	_, err := action.Kinds.Decode("http", map[string]any{}, "a.yaml: phases[0].load.actions[0].http", config.Target{})
	const want = `a.yaml: phases[0].load.actions[0].http: "http" is not an action kind`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
