package action

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestStampedRead: bytes written over loopback and read 50 ms later are
// stamped with the time they arrived, not the time they were read: the
// stamp lies between the start and the end of the write (loopback queues
// them to the reader inside the write), 50 ms or more before the read.
func TestStampedRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	f, err := client.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := stampSocket(fd, true); err != nil {
		t.Fatal(err)
	}
	b, oob := make([]byte, 64), make([]byte, 64)
	// The kernel turns stamping on a moment after the first socket asks
	// (a deferred switch): until then packets come unstamped. Exchange
	// until one is stamped (Stamped waits for that too), at most a second.
	for try := 0; ; try++ {
		if try == 1000 {
			t.Fatal("no packet stamped in 1000 tries over a second")
		}
		if _, err := server.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
		if _, at, err := stampedRead(fd, b, oob); err == nil && !at.IsZero() {
			break
		}
	}
	before := time.Now()
	if _, err := server.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	time.Sleep(50 * time.Millisecond)
	var n int
	var at time.Time
	for {
		n, at, err = stampedRead(fd, b, oob)
		if err != syscall.EAGAIN && err != syscall.EINTR {
			break
		}
		time.Sleep(time.Millisecond)
	}
	read := time.Now()
	if err != nil || string(b[:n]) != "answer" {
		t.Fatalf("read %q, %v", b[:n], err)
	}
	// The stamp is the kernel's wall clock turned into a time with the
	// monotonic clock: allow a millisecond for the two clocks' readings.
	if at.IsZero() || at.Before(before.Add(-time.Millisecond)) || at.After(after.Add(time.Millisecond)) {
		t.Errorf("stamped %v after the write began, which took %v; want within it", at.Sub(before), after.Sub(before))
	}
	if late := read.Sub(at); late < 50*time.Millisecond {
		t.Errorf("stamped %v before the read; want 50ms or more", late)
	}
}
