//go:build !linux

package engine

import (
	"context"
	"time"
)

func precise() func() { return func() {} }

// sleepUntil returns at t (within the runtime timer's precision) or when
// ctx is done, with the time it read last.
func sleepUntil(ctx context.Context, t time.Time) time.Time {
	d := time.Until(t)
	if d <= 0 {
		return time.Now()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
	return time.Now()
}
