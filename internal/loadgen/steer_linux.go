package loadgen

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketCPU is the CPU that last took in a packet for socket fd
// (SO_INCOMING_CPU): over loopback, the CPU its peer ran on when it
// sent; from a network card, the CPU of the card's receive queue. -1
// when there is none (a Unix socket).
func socketCPU(fd int) int32 {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_INCOMING_CPU)
	if err != nil {
		return -1
	}
	return int32(v)
}

// currentCPU is the CPU the calling thread runs on (getcpu), -1 when it
// cannot be told.
func currentCPU() int32 {
	var cpu uint32
	if _, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); errno != 0 {
		return -1
	}
	return int32(cpu)
}

// sameHost tells whether TCP socket fd is connected to an address of
// this host: its peer's address is a loopback one, or the socket's own
// (a connection to one of the host's own addresses goes out from it).
func sameHost(fd int) bool {
	local, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return false
	}
	return hostLocal(sockIP(local), sockIP(peer))
}

// sockIP is the IP address of an Internet socket address, nil for any
// other.
func sockIP(sa unix.Sockaddr) net.IP {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.IP(a.Addr[:])
	case *unix.SockaddrInet6:
		return net.IP(a.Addr[:])
	}
	return nil
}
