package loadgen

import (
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadID is the calling thread's id (for threadRun; the goroutine must
// be locked to it).
func threadID() int32 { return int32(unix.Gettid()) }

// threadRun reads how long thread tid of this process has run, from its
// CPU clock (clock_gettime on the clock the kernel derives from a thread
// id: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)). False when it has none
// (no such thread).
func threadRun(tid int32) (time.Duration, bool) {
	if tid <= 0 {
		return 0, false
	}
	clock := uintptr(^int64(tid)<<3 | 2 /* CPUCLOCK_SCHED */ | 4 /* CPUCLOCK_PERTHREAD_MASK */)
	var ts unix.Timespec
	if _, _, errno := unix.RawSyscall(unix.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// machineIdle reads the time the machine's cores have been idle (idle
// and waiting for I/O) and their time in all, summed over the cores, in
// clock ticks, from /proc/stat. False when it cannot be read.
func machineIdle() (idle, total int64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal
	for i := 1; i <= 8; i++ {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 4 || i == 5 {
			idle += v
		}
	}
	return idle, total, true
}
