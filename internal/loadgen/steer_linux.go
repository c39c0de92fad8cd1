package loadgen

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketCPU is the CPU that last took in a packet for socket fd
// (SO_INCOMING_CPU): over loopback, the CPU its peer ran on when it
// sent; from a network card, the CPU of the card's receive queue. -1
// when there is none (a Unix socket, or nothing received yet).
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
