package action

import (
	"fmt"
	"testing"

	"github.com/pbenchd/pbenchd/internal/config"
)

func TestExploreSQL(t *testing.T) {
	for _, raw := range []any{42, "", []any{"a"}, map[string]any{}, map[string]any{"query": 5}, map[string]any{"query": "SELECT $1", "args": "x"},
		map[string]any{"query": "SELECT 1", "exec": "x"}, map[string]any{"transaction": []any{"", " "}}, map[string]any{"query": "SELECT 1", "timeout": "soon", "retries": -1, "mode": "extended", "connections": -1, "pool_size": -2},
		map[string]any{"query": "SELECT $3", "args": []any{map[string]any{"kind": "uniform_int"}, map[string]any{"kind": "string"}, map[string]any{"kind": "choice"}}},
		map[string]any{"query": "SELECT $1", "args": []any{map[string]any{"kind": "constant"}, map[string]any{"kind": "sequence", "bogus": 1}}},
		map[string]any{"query": "SELECT $1", "args": []any{map[string]any{"kind": "uniform_int", "min": "a", "max": 2}}},
		map[string]any{"query": "SELECT $1", "args": []any{map[string]any{}}},
		map[string]any{"query": "SELECT 1", "isolation": "SERIALIZABLE", "set": "SET x = 1"},
		map[string]any{"query": "SELECT 1", "timeout": 5},
	} {
		err := Kinds.Check("sql", raw, "p.sql", config.Target{Kind: "postgres"})
		fmt.Printf("=== %#v\n%v\n", raw, err)
	}
	fmt.Println(Kinds.Check("sql", "SELECT 1", "p.sql", config.Target{Kind: "kafka"}))
	fmt.Println(Kinds.Check("nope", "SELECT 1", "p.nope", config.Target{Kind: "kafka"}))
}
