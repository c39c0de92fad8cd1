package config_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

func TestExplore2(t *testing.T) {
	var set map[string]any
	if s := os.Getenv("EXS"); s != "" {
		set = map[string]any{"scenario_files": strings.Fields(s), "run.scenarios": strings.Fields(os.Getenv("EXR"))}
	}
	c, err := config.Load(config.Options{Files: strings.Fields(os.Getenv("EXF")), Kinds: action.Kinds, NoBuiltinScenarios: os.Getenv("EXB") == "", Environ: strings.Fields(os.Getenv("EXE")), Set: set})
	fmt.Printf("ERR:\n%v\n", err)
	if c != nil {
		for _, sc := range c.Catalog {
			for _, p := range sc.Phases {
				for _, a := range p.Load.Actions {
					if a.Open != nil {
						fmt.Printf("%s.%s: %+v\n", sc.Name, a.Name, a.Open.Spec)
					}
				}
			}
		}
	}
}
