package loadgen

import (
	"net"
	"testing"
)

// TestHostLocal: a connection stays on this host when its peer is a
// loopback address or the connection's own address.
func TestHostLocal(t *testing.T) {
	ip := net.ParseIP
	for _, c := range []struct {
		local, peer net.IP
		want        bool
	}{
		{ip("127.0.0.1"), ip("127.0.0.1"), true},
		{ip("127.0.0.1"), ip("127.0.0.53"), true},
		{ip("::1"), ip("::1"), true},
		{ip("10.0.0.5"), ip("10.0.0.5"), true},
		{ip("10.0.0.5").To4(), ip("10.0.0.5"), true}, // 4 bytes against 16
		{ip("10.0.0.5"), ip("10.0.0.9"), false},
		{ip("fd00::5"), ip("fd00::9"), false},
		{nil, ip("127.0.0.1"), false},
		{ip("127.0.0.1"), nil, false},
	} {
		if got := hostLocal(c.local, c.peer); got != c.want {
			t.Errorf("from %v to %v: on this host %v; want %v", c.local, c.peer, got, c.want)
		}
	}
}
