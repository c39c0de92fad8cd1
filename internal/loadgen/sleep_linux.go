package loadgen

import (
	"syscall"
	"time"
)

// nanosleep sleeps d on the calling thread, with the kernel's timer slack
// at 1µs (the default 50µs would be added to every wake-up). A Go timer
// would do only to within about a millisecond (the netpoller waits in
// milliseconds), which would be added to every open-loop arrival. The
// slack is set at every sleep because the goroutine may have moved to
// another thread (it is not locked to one: see sleeper).
func nanosleep(d time.Duration) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, 29 /* PR_SET_TIMERSLACK */, 1000, 0)
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
