package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a PostgreSQL server of a test's own, in a temporary
// directory on a free port, so that the test may kill and restart it
// without disturbing any other test. initdb and postgres refuse to run as
// root: as root, they run as the postgres OS user.
type pgServer struct {
	t      *testing.T
	bindir string
	dir    string // owned by the server's user: data/ and the socket
	port   int
	cred   *syscall.Credential
	cmd    *exec.Cmd
	done   chan struct{}
	log    bytes.Buffer
}

// startPGServer makes and starts a server, stopped when the test ends.
func startPGServer(t *testing.T) *pgServer {
	t.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		t.Fatalf("pg_config --bindir (install postgresql, see scripts/deps.sh): %v", err)
	}
	s := &pgServer{t: t, bindir: strings.TrimSpace(string(out))}
	s.dir, err = os.MkdirTemp("", "pbenchd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, initdb needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	initdb := s.command("initdb", "-D", filepath.Join(s.dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.bindir, name), args...)
	c.Dir = s.dir
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return c
}

// DSN is the server's connection string.
func (s *pgServer) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", s.port)
}

// start starts the server and waits until it accepts connections. After
// a SIGKILL, the old backends may hold the shared memory a little while:
// it tries again until then.
func (s *pgServer) start() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s.log.Reset()
		s.cmd = s.command("postgres", "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port),
			"-c", "listen_addresses=127.0.0.1", "-k", s.dir, "-c", "fsync=off", "-c", "max_connections=60",
			"-c", "shared_buffers=16MB")
		s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
		if err := s.cmd.Start(); err != nil {
			s.t.Fatalf("postgres: %v", err)
		}
		s.done = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.done)
		if s.waitAccepting(deadline) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("postgres did not start within 60s:\n%s", s.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitAccepting waits until the server answers a query; false if it
// exited first.
func (s *pgServer) waitAccepting(deadline time.Time) bool {
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.DSN())
		if err == nil {
			c.Close(ctx)
			cancel()
			return true
		}
		cancel()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// kill SIGKILLs the postmaster and waits for it to be gone.
func (s *pgServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}
