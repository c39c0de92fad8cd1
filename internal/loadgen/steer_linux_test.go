package loadgen

import (
	"net"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pbenchd/pbenchd/internal/action"
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
	client, server := tcpPair(t, "127.0.0.1")
	fd := func(c net.Conn) int { return connFd(t, c) }
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

	// Which connections are steered: those to this host.
	if !sameHost(fd(client)) || !sameHost(fd(server)) {
		t.Errorf("a loopback TCP connection is not on this host (both ends: %v, %v)", sameHost(fd(client)), sameHost(fd(server)))
	}
	if sameHost(pair[0]) {
		t.Errorf("a Unix socket is said to be a TCP connection on this host")
	}
	for _, c := range []struct {
		fds  []int
		want bool
	}{
		{[]int{fd(client), fd(server)}, true},
		{[]int{-1, fd(client), -1}, true},
		{[]int{fd(client), pair[0]}, false},
		{[]int{-1, -1}, false},
	} {
		if got := steerable(fdMux{fds: c.fds}, len(c.fds)); got != c.want {
			t.Errorf("steerable over sockets %v: %v; want %v", c.fds, got, c.want)
		}
	}
}

// fdMux is a Mux of which only the sockets are known.
type fdMux struct {
	action.Mux
	fds []int
}

func (m fdMux) Fd(i int) int { return m.fds[i] }

// tcpPair is a TCP connection to a listener on host, both ends; they
// close when the test ends.
func tcpPair(t *testing.T, host string) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// connFd is a TCP connection's socket.
func connFd(t *testing.T, c net.Conn) (fd int) {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}
