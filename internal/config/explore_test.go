package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

func TestExplore(t *testing.T) {
	cfgs, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, f := range cfgs {
		_, err := config.Load(config.Options{Files: []string{f}, Kinds: action.Kinds, Environ: []string{}})
		fmt.Printf("=== %s\n%v\n", f, err)
	}
	scs, _ := filepath.Glob("testdata/bad/scenario/*.yaml")
	for _, f := range scs {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		_, err := config.Load(config.Options{Kinds: action.Kinds, NoBuiltinScenarios: true, Environ: []string{},
			Set: map[string]any{"scenario_files": []string{f}, "run.scenarios": []string{name}}})
		fmt.Printf("=== %s\n%v\n", f, err)
	}
}
