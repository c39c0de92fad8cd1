package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWakeUpAfterClose: waking a lane whose reactor has closed its poller
// writes nothing, even to a file that took the number of the poller's
// eventfd (the lowest free descriptor is the next one given out).
func TestWakeUpAfterClose(t *testing.T) {
	r := newReactor(context.Background(), context.Background(), time.Now().Add(time.Hour))
	if r == nil {
		t.Fatal("no event loop on Linux")
	}
	ev := r.p.ev
	r.close()
	var p [2]int
	var pipes [][2]int
	t.Cleanup(func() {
		for _, q := range pipes {
			unix.Close(q[0])
			unix.Close(q[1])
		}
	})
	for range 64 {
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		pipes = append(pipes, p)
		if p[1] == ev {
			break
		}
	}
	if p[1] != ev {
		t.Fatalf("no pipe took descriptor %d: cannot check", ev)
	}
	r.wakeUp()
	var buf [8]byte
	if n, err := unix.Read(p[0], buf[:]); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("read %d bytes (%v) from the file that took the closed eventfd's number; want none", n, err)
	}
}
