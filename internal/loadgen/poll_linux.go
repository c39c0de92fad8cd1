package loadgen

import (
	"encoding/binary"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller is an epoll instance and an eventfd that wakes it, for the
// event loop of the actions that are driven many calls at a time (see
// mux.go). Sockets are registered level-triggered, keyed by loop and
// slot.
type poller struct {
	ep, ev int
	evs    []unix.EpollEvent
	// noPwait2 is set once epoll_pwait2 (Linux 5.11) is found missing:
	// waits are then in milliseconds, and a shorter one sleeps.
	noPwait2 atomic.Bool
	// locked tells that one thread waits (its goroutine is locked to
	// it): the timer slack is then set once.
	locked, slackSet bool
}

// pollEvent is a socket's readiness, or a wake-up (wake).
type pollEvent struct {
	loop, slot int32
	in, out    bool
	wake       bool
}

func newPoller() (*poller, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ep)
		return nil, err
	}
	p := &poller{ep: ep, ev: ev, evs: make([]unix.EpollEvent, 128)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ev, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1, Pad: -1}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) ctl(op, fd int, loop, slot int32, out bool) error {
	e := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: loop, Pad: slot}
	if out {
		e.Events |= unix.EPOLLOUT
	}
	return unix.EpollCtl(p.ep, op, fd, &e)
}

// add registers a socket; watch changes whether its writability is
// watched too. A closed socket leaves the set by itself.
func (p *poller) add(fd int, loop, slot int32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, loop, slot, false)
}
func (p *poller) watch(fd int, loop, slot int32, out bool) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, loop, slot, out)
}

// remove unregisters a socket that stays open.
func (p *poller) remove(fd int) {
	_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, fd, nil)
}

// wake makes a wait return (any goroutine).
func (p *poller) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.ev, one[:])
}

// wait waits at most d (forever when d < 0) for sockets to be ready, and
// appends what it found to out.
func (p *poller) wait(d time.Duration, out []pollEvent) ([]pollEvent, error) {
	var n int
	var err error
	if d > 0 && d < time.Millisecond {
		// Short waits are an open loop's next arrival: the default
		// slack of 50 µs would be added to them.
		p.slack()
	}
	for {
		n, err = p.epollWait(d)
		if err != unix.EINTR {
			break
		}
		d = 0 // a signal: look once more without waiting
	}
	if err != nil {
		return out, err
	}
	for _, e := range p.evs[:n] {
		if e.Fd < 0 {
			var buf [8]byte
			_, _ = unix.Read(p.ev, buf[:])
			out = append(out, pollEvent{wake: true})
			continue
		}
		out = append(out, pollEvent{
			loop: e.Fd, slot: e.Pad,
			in:  e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0,
			out: e.Events&unix.EPOLLOUT != 0,
		})
	}
	return out, nil
}

// sleep sleeps d without waking for sockets, but for a wake-up (a stop,
// a reconnect done, an arrival queued by another lane): the wait that
// follows it takes that.
func (p *poller) sleep(d time.Duration) {
	p.slack()
	ts := unix.NsecToTimespec(int64(d))
	fds := [1]unix.PollFd{{Fd: int32(p.ev), Events: unix.POLLIN}}
	_, _ = unix.Ppoll(fds[:], &ts, nil)
}

// slack sets the thread's timer slack to 1 µs (see nanosleep), once when
// the waiting goroutine has a thread of its own (locked), else at every
// wait (it may have moved).
func (p *poller) slack() {
	if !p.slackSet {
		_, _, _ = unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_TIMERSLACK, 1000, 0)
		p.slackSet = p.locked
	}
}

func (p *poller) epollWait(d time.Duration) (int, error) {
	if !p.noPwait2.Load() {
		var ts *unix.Timespec
		if d >= 0 {
			t := unix.NsecToTimespec(int64(d))
			ts = &t
		}
		n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(p.ep), uintptr(unsafe.Pointer(&p.evs[0])),
			uintptr(len(p.evs)), uintptr(unsafe.Pointer(ts)), 0, 0)
		if errno != unix.ENOSYS {
			if errno != 0 {
				return 0, errno
			}
			return int(n), nil
		}
		p.noPwait2.Store(true)
	}
	ms := -1
	if d >= 0 {
		ms = int(d / time.Millisecond)
		if ms == 0 && d > 0 {
			nanosleep(d)
		}
	}
	return unix.EpollWait(p.ep, p.evs, ms)
}

// setLocked tells whether one thread waits from now on.
func (p *poller) setLocked(locked bool) {
	p.locked = locked
	if !locked {
		p.slackSet = false // the next thread may not have it
	}
}

func (p *poller) close() {
	unix.Close(p.ep)
	unix.Close(p.ev)
}
