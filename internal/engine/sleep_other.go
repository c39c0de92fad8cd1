//go:build !linux

package engine

import (
	"context"
	"time"
)

func precise() func() { return func() {} }

// sleepUntil returns at t (within the runtime timer's precision) or when
// ctx is done.
func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}
