//go:build !linux

package loadgen

// There is no event loop, so nothing to steer, without Linux (see
// poll_other.go).
func socketCPU(int) int32 { return -1 }

func currentCPU() int32 { return -1 }

func sameHost(int) bool { return false }
