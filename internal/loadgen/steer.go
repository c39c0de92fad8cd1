package loadgen

import "net"

// hostLocal tells whether a connection from local to peer stays on this
// host: peer is a loopback address, or local's own (see sameHost).
func hostLocal(local, peer net.IP) bool {
	if local == nil || peer == nil {
		return false
	}
	return peer.IsLoopback() || peer.Equal(local)
}
