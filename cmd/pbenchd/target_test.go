package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// proxy forwards TCP connections from a fixed local port to PostgreSQL.
// Stopping it closes the port and cuts every connection, as a crashed or
// partitioned server would; starting it again reopens the same port.
type proxy struct {
	t       *testing.T
	addr    string // the local address pbenchd connects to
	backend string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// newProxy reserves a free local port for a proxy to backend, not yet
// listening: a connection to it is refused until start.
func newProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), backend: backend, conns: map[net.Conn]bool{}}
	ln.Close()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	p.t.Helper()
	var ln net.Listener
	var err error
	// The port was just ours; retry briefly in case the kernel has not let
	// go of it.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listening on %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

// forward copies both ways between c and a new backend connection until
// either side closes or the proxy stops.
func (p *proxy) forward(c net.Conn) {
	b, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, b) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// track registers a pair of connections, or closes them if the proxy has
// stopped meanwhile.
func (p *proxy) track(c, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		b.Close()
		return false
	}
	p.conns[c], p.conns[b] = true, true
	return true
}

// active returns how many client connections the proxy carries.
func (p *proxy) active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// stop closes the port and cuts every connection.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedDSN returns the test DSN with its host and port replaced by addr,
// the backend it pointed at, and its password: the test DSN's own, or
// else one made up (PostgreSQL then trusts local connections and never
// asks for it), there to show that it is never logged or exported.
func proxiedDSN(t *testing.T, addr string) (dsn, backend, password string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(testDSN())
	if err != nil {
		t.Fatalf("PBENCHD_TEST_DSN: %v", err)
	}
	backend = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	u, err := url.Parse(testDSN())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("PBENCHD_TEST_DSN must be a postgres:// URL for this test, not %q", testDSN())
	}
	u.Host = addr
	password = cfg.Password
	if password == "" {
		password = "pbenchd-e2e-secret"
	}
	u.User = url.UserPassword(cfg.User, password)
	return u.String(), backend, password
}

// TestTargetDown runs the daemon against a target that is down at start,
// comes up, goes away with connections open, and comes back: the daemon
// must keep running, say so in pbenchd_target_up, count error iterations
// and classified errors, and recover by itself.
func TestTargetDown(t *testing.T) {
	t.Parallel()
	pgConn(t) // the real server must be up; only the proxy goes down
	_, backend, _ := proxiedDSN(t, "")
	p := newProxy(t, backend)
	dsn, _, secret := proxiedDSN(t, p.addr)
	cfg := writeConfig(t, "target_down.yaml", nil)
	d := startDaemon(t, dsn, "--config", cfg, "--scenarios", "e2e_down", "--duration", "1s", "--pause", "0s")

	type state struct {
		up                        float64
		upSet                     bool
		pass, errs                float64
		connect, lost, otherClass float64
	}
	read := func() state {
		d.alive(t)
		f := d.scrape(t, false)
		var s state
		s.up, s.upSet = f.value("pbenchd_target_up", labels("target", "pg"))
		s.pass, _ = f.value("pbenchd_iterations_total", labels("scenario", "e2e_down", "result", "pass"))
		s.errs, _ = f.value("pbenchd_iterations_total", labels("scenario", "e2e_down", "result", "error"))
		for _, m := range f.find("pbenchd_action_errors_total", labels("scenario", "e2e_down", "action", "select_1")) {
			switch class := labelsOf(m)["class"]; class {
			case "connect":
				s.connect = m.GetCounter().GetValue()
			case "connection_lost":
				s.lost = m.GetCounter().GetValue()
			case "canceled":
			default:
				s.otherClass += m.GetCounter().GetValue()
				t.Logf("errors of class %s: %v", class, m.GetCounter().GetValue())
			}
		}
		return s
	}
	show := func(s state) string { return fmt.Sprintf("%+v", s) }

	// 1. Down from the start: the port refuses connections. The check
	// before setup finds it so: an error iteration, no calls.
	eventually(t, 15*time.Second, "target_up 0 and an error iteration while the target is down", func() (bool, string) {
		s := read()
		return s.upSet && s.up == 0 && s.errs >= 1, show(s)
	})
	if s := read(); s.pass != 0 {
		t.Errorf("%v iterations passed while the target was down", s.pass)
	}

	// 2. The target comes up: the daemon recovers by itself.
	p.start()
	eventually(t, 15*time.Second, "target_up 1 and a pass once the target is up", func() (bool, string) {
		s := read()
		return s.up == 1 && s.pass >= 1, show(s)
	})

	// 3. The target goes away with connections open. If the cut happened
	// to fall between two iterations or between calls, no open
	// connection was in a call and only connect errors follow: bring the
	// target back and cut again (each connection is in a call 75 % of a
	// phase: five cuts that all miss are rare).
	for attempt := 1; ; attempt++ {
		eventually(t, 5*time.Second, "pbenchd to hold connections through the proxy", func() (bool, string) {
			n := p.active()
			return n > 0, fmt.Sprintf("%d connections", n)
		})
		before := read()
		p.stop()
		var lost bool
		eventually(t, 15*time.Second, "target_up 0 and a new error iteration after the cut", func() (bool, string) {
			s := read()
			lost = s.lost > before.lost
			return s.up == 0 && s.errs > before.errs, show(s)
		})
		if lost {
			break
		}
		if attempt == 5 {
			t.Fatalf("cutting open connections 5 times counted no connection_lost error: %s", show(read()))
		}
		t.Logf("cut %d counted no connection_lost; again", attempt)
		p.start()
		eventually(t, 15*time.Second, "a pass", func() (bool, string) {
			s := read()
			return s.pass > before.pass, show(s)
		})
	}

	// 4. Back again: recovery without a restart.
	before := read()
	p.start()
	eventually(t, 15*time.Second, "target_up 1 and a new pass once the target is back", func() (bool, string) {
		s := read()
		return s.up == 1 && s.pass > before.pass, show(s)
	})
	if s := read(); s.otherClass != 0 {
		t.Errorf("%v errors were classified neither connect nor connection_lost (see the log above)", s.otherClass)
	}
	checkNoSecretsInLabels(t, d.scrape(t, true), secret, p.addr)
	d.stop(t)
	if strings.Contains(d.stderr.String(), secret) {
		t.Errorf("the DSN's password is in the log")
	}
}
