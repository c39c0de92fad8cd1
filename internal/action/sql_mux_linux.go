package action

import (
	"encoding/binary"
	"syscall"
	"time"
	"unsafe"
)

// The event loop's sockets ask the kernel for the time each packet
// arrived (SO_TIMESTAMPNS): a call's answer is timed at the arrival of its
// last bytes, not when the loop came round to read them, so the loop's
// own wake-up is not counted in the call's latency, and an open loop may
// read answers at its next arrival instead of waking for each (see
// loadgen).

// stampSocket turns the receive timestamps of fd on or off.
func stampSocket(fd int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, v)
}

// stampedRead reads into b, and gives the kernel's receive time of the
// last bytes read, if it gave one (a zero time otherwise).
func stampedRead(fd int, b []byte, oob []byte) (int, time.Time, error) {
	if len(b) == 0 {
		return 0, time.Time{}, nil
	}
	iov := syscall.Iovec{Base: &b[0]}
	iov.SetLen(len(b))
	msg := syscall.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	n, _, errno := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return 0, time.Time{}, errno
	}
	return int(n), arrival(oob[:msg.Controllen]), nil
}

// arrival finds SCM_TIMESTAMPNS in control messages and gives it as a
// time that carries the monotonic clock: now less the age of the packet
// by the wall clock (the kernel's stamp is CLOCK_REALTIME).
func arrival(oob []byte) time.Time {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			return time.Time{}
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= syscall.SizeofCmsghdr+16 {
			d := oob[syscall.SizeofCmsghdr:]
			sec := int64(binary.NativeEndian.Uint64(d))
			nsec := int64(binary.NativeEndian.Uint64(d[8:]))
			now := time.Now()
			age := now.Sub(time.Unix(sec, nsec).Round(0))
			if age < 0 {
				age = 0
			}
			return now.Add(-age)
		}
		const align = int(unsafe.Sizeof(uintptr(0)))
		next := (l + align - 1) &^ (align - 1)
		if next >= len(oob) {
			return time.Time{}
		}
		oob = oob[next:]
	}
	return time.Time{}
}
