//go:build !linux

package loadgen

import "time"

// There are no lanes without Linux's event loop (see poll_other.go).
func threadID() int32 { return 0 }

func threadRun(int32) (time.Duration, bool) { return 0, false }

func machineIdle() (idle, total int64, ok bool) { return 0, 0, false }
