package engine

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

// spinWindow is how long before an arrival the pacer stops sleeping and
// polls the clock: nanosleep wakes within tens of microseconds (median
// oversleep about 40µs here), a Go timer only within about a millisecond
// (the netpoller waits in milliseconds), which would be added to every
// open-loop latency. The spin costs up to this much CPU per arrival.
const spinWindow = 50 * time.Microsecond

// precise prepares the calling goroutine for sleepUntil: it keeps its own
// OS thread, with the kernel's timer slack at 1µs. The returned function
// undoes it.
func precise() func() {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, 29 /* PR_SET_TIMERSLACK */, 1000, 0)
	return func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, 29, 0 /* default */, 0)
		runtime.UnlockOSThread()
	}
}

// sleepUntil returns at t, to within microseconds, or when ctx is done,
// with the time it read last.
func sleepUntil(ctx context.Context, t time.Time) time.Time {
	for {
		now := time.Now()
		d := t.Sub(now) - spinWindow
		if d <= 0 {
			break
		}
		if ctx.Err() != nil {
			return now
		}
		ts := syscall.NsecToTimespec(int64(min(d, 50*time.Millisecond)))
		_ = syscall.Nanosleep(&ts, nil)
	}
	for {
		now := time.Now()
		if !now.Before(t) || ctx.Err() != nil {
			return now
		}
	}
}
