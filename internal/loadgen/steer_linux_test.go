package loadgen

import (
	"net"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSteerReadings: over loopback TCP, the CPU that took in a packet
// (socketCPU, on the receiving socket) is the CPU its sender ran on, for
// each CPU this process may use, and currentCPU tells a thread pinned
// there the same; a Unix socket has no such CPU (-1).
func TestSteerReadings(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
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
	fd := func(c net.Conn) (n int) {
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		raw.Control(func(f uintptr) { n = int(f) })
		return n
	}
	tried := 0
	for cpu := 0; cpu < 1024 && tried < allowed.Count(); cpu++ {
		if !allowed.IsSet(cpu) {
			continue
		}
		tried++
		// The sender's thread is pinned, and thrown away after (its
		// goroutine ends locked to it).
		on := make(chan int32, 1)
		go func() {
			runtime.LockOSThread()
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				t.Error(err)
				on <- -2
				return
			}
			_, err := server.Write([]byte{1})
			if err != nil {
				t.Error(err)
			}
			on <- currentCPU()
		}()
		if got := <-on; got != int32(cpu) {
			t.Errorf("a thread pinned to CPU %d runs on %d", cpu, got)
		}
		var b [1]byte
		if _, err := client.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if c := socketCPU(fd(client)); c != int32(cpu) {
			t.Errorf("sent from CPU %d: the receiving socket says %d", cpu, c)
		}
	}
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(pair[0])
	defer syscall.Close(pair[1])
	if _, err := syscall.Write(pair[0], []byte{1}); err != nil {
		t.Fatal(err)
	}
	if c := socketCPU(pair[1]); c != -1 {
		t.Errorf("a Unix socket: CPU %d; want -1", c)
	}
}
