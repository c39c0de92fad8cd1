//go:build !linux

package action

import (
	"syscall"
	"time"
)

// Elsewhere than on Linux the event loop's sockets have no receive
// timestamps: an answer is timed when it is read.
func stampSocket(int, bool) error { return nil }

func stampedRead(fd int, b []byte, _ []byte) (int, time.Time, error) {
	n, err := rawIO(syscall.SYS_READ, fd, b)
	return n, time.Time{}, err
}
