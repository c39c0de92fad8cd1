//go:build !linux

package loadgen

import "time"

// nanosleep sleeps d, within the runtime timer's precision.
func nanosleep(d time.Duration) { time.Sleep(d) }
