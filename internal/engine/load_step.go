package engine

import (
	"context"
	"errors"

	"github.com/pbenchd/pbenchd/internal/config"
)

// loadStep bulk-loads generated data into a target.
func (e *Engine) loadStep(ctx context.Context, sc *config.Scenario, target string, spec map[string]any) error {
	return errors.New("load steps are not supported yet")
}
