package action

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A reused connection whose calls are one prepared statement with text
// arguments is taken from pgx once it is set up (connected, its `set`
// statements run, the statement prepared) and driven as libpq drives
// pgbench's: each call writes Bind, Execute and Sync in one blocking
// write(2) and reads the answer with blocking read(2)s until
// ReadyForQuery, on its goroutine's thread, without the Go netpoller. On
// a machine where client and server share the cores the netpoller's
// hand-offs between threads cost more CPU per call than the protocol
// itself (see the README's performance section): this path halves the
// client's CPU per call of a closed loop of point selects.
//
// Loops drive these connections with an event loop (see Muxer and
// loadgen), with no thread per call. A worker bound to one (Bind: where
// no event loop can be had) blocks in the kernel on its thread instead,
// and, so that workers in calls do not wait for one another, the runtime
// needs a P for each of them beside the ones it runs everything else on:
// while workers are bound to raw connections GOMAXPROCS is raised by
// their number (at most maxRawProcs), and set back when they release
// them.
//
// Deadlines: the call timeout is the socket's receive and send timeout
// (SO_RCVTIMEO, SO_SNDTIMEO: each read or write waits at most that long).
// The end of a phase's drain and a stop reach calls in flight through
// shutdown(2) of their sockets (see sqlRunner.abort).

// maxRawProcs bounds the Ps added for raw connections.
const maxRawProcs = 128

var rawProcs struct {
	mu          sync.Mutex
	extra, base int
}

// addRawProcs adds n (or removes -n) Ps for raw connections.
func addRawProcs(n int) {
	rawProcs.mu.Lock()
	defer rawProcs.mu.Unlock()
	if rawProcs.extra == 0 && n > 0 {
		rawProcs.base = runtime.GOMAXPROCS(0)
	}
	rawProcs.extra += n
	want := rawProcs.base + min(rawProcs.extra, maxRawProcs)
	if rawProcs.extra <= 0 {
		rawProcs.extra, want = 0, rawProcs.base
	}
	if want > 0 && runtime.GOMAXPROCS(0) != want {
		runtime.GOMAXPROCS(want)
	}
}

// rawEligible tells whether calls of s can go through raw connections:
// one prepared query or exec on reused connections, with arguments that
// are all of the types the fast path sends as text (integers, floats,
// strings, booleans: not `now`).
func rawEligible(s *SQLSpec) bool {
	if s.Driver == "pgx" || s.Conn != "reuse" || s.Mode != "prepared" || s.Query+s.Exec == "" || len(s.Transaction)+len(s.Statements) > 0 {
		return false
	}
	for _, a := range s.Args {
		switch a.Kind {
		case "uniform_int", "sequence", "string":
		case "choice":
			for _, v := range a.Values {
				if _, ok := appendText(nil, v); !ok {
					return false
				}
			}
		case "constant":
			if _, ok := appendText(nil, a.Value); !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// plainSocket tells whether c talks over a plain TCP or Unix socket (not
// TLS): only those are taken over.
func plainSocket(c *pgx.Conn) bool {
	switch c.PgConn().Conn().(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// rawConn is a reused connection taken over from pgx.
type rawConn struct {
	fd   int
	name string
	out  []byte
	// in[at:end] is what was read and not yet parsed.
	in      []byte
	at, end int
	// busy is set while a call is on the connection, so that abort
	// shuts down only connections in a call.
	busy atomic.Bool
}

// takeOver prepares f on c, then takes c from pgx: from then on c is not
// usable and the rawConn owns the socket. On error c is closed.
func takeOver(ctx context.Context, c *pgx.Conn, f *fastStatement, timeout time.Duration) (*rawConn, error) {
	if _, err := c.PgConn().Prepare(ctx, f.name, f.sql, nil); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	hj, err := c.PgConn().Hijack()
	if err != nil {
		c.Close(context.Background())
		return nil, err
	}
	// A duplicate of the socket, outside the runtime's poller, in
	// blocking mode; the original leaves the poller and is closed.
	sc, ok := hj.Conn.(syscall.Conn)
	if !ok {
		hj.Conn.Close()
		return nil, fmt.Errorf("connection of type %T cannot be taken over", hj.Conn)
	}
	fd := -1
	raw, err := sc.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(s uintptr) {
			r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
			if errno != 0 {
				err = os.NewSyscallError("fcntl", errno)
				return
			}
			fd = int(r)
		})
		err = errors.Join(err, cerr)
	}
	hj.Conn.Close()
	if err == nil {
		err = syscall.SetNonblock(fd, false)
	}
	if err != nil {
		if fd >= 0 {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("taking the connection over: %w", err)
	}
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	for _, opt := range []int{syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO} {
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, opt, &tv); err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("socket timeout: %w", err)
		}
	}
	return &rawConn{fd: fd, name: f.name, out: make([]byte, 0, 256), in: make([]byte, 16<<10)}, nil
}

// errTimeout is a read or write that waited the call timeout: a net.Error
// whose Timeout is true, classified "timeout".
var errTimeout = fmt.Errorf("pbenchd: call timed out on the socket: %w", os.ErrDeadlineExceeded)

// exec runs the prepared statement with params (text), reading its rows
// to the end without decoding them. A server error comes back as
// *pgconn.PgError once the server is ready again, so the connection can
// be reused; any other error leaves it mid-protocol.
func (rc *rawConn) exec(params [][]byte) error {
	if err := rc.write(rc.request(params)); err != nil {
		return err
	}
	var failed error
	for {
		t, body, err := rc.next()
		if err != nil {
			return err
		}
		switch t {
		case 'E':
			failed = parseError(body)
		case 'Z':
			return failed
		}
	}
}

// request builds, in rc's output buffer, the messages of one call of the
// prepared statement with params (text).
func (rc *rawConn) request(params [][]byte) []byte {
	b := rc.out[:0]
	// Bind: unnamed portal, the statement, all parameters and results in
	// text.
	b = append(b, 'B', 0, 0, 0, 0, 0)
	b = append(b, rc.name...)
	b = append(b, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(params)))
	for _, p := range params {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	b = append(b, 0, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	// Execute the unnamed portal, all rows; Sync.
	b = append(b, 'E', 0, 0, 0, 9, 0, 0, 0, 0, 0, 'S', 0, 0, 0, 4)
	rc.out = b
	return b
}

func (rc *rawConn) write(b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(rc.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ioError("write", err)
		}
		b = b[n:]
	}
	return nil
}

// ioError is a failed read or write: the call timeout when the socket's
// timeout passed (EAGAIN), else a broken connection.
func ioError(op string, err error) error {
	if err == syscall.EAGAIN {
		return errTimeout
	}
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, err)}
}

// fill reads more into the buffer, keeping in[at:end].
func (rc *rawConn) fill() error {
	if rc.at > 0 {
		rc.end = copy(rc.in, rc.in[rc.at:rc.end])
		rc.at = 0
	}
	for {
		n, err := syscall.Read(rc.fd, rc.in[rc.end:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ioError("read", err)
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		rc.end += n
		return nil
	}
}

// next returns the next message's type and body. The body is valid until
// the next call; a message larger than the buffer is skipped (its body is
// nil) unless it is an error, for which the buffer grows.
func (rc *rawConn) next() (byte, []byte, error) {
	for rc.end-rc.at < 5 {
		if err := rc.fill(); err != nil {
			return 0, nil, err
		}
	}
	t := rc.in[rc.at]
	size := int(binary.BigEndian.Uint32(rc.in[rc.at+1:]))
	if size < 4 {
		return 0, nil, fmt.Errorf("pbenchd: message %q of length %d from the server", t, size)
	}
	if 1+size > len(rc.in) {
		if t != 'E' {
			return t, nil, rc.skip(1 + size)
		}
		grown := make([]byte, 1+size)
		rc.end = copy(grown, rc.in[rc.at:rc.end])
		rc.in, rc.at = grown, 0
	}
	for rc.end-rc.at < 1+size {
		if err := rc.fill(); err != nil {
			return 0, nil, err
		}
	}
	body := rc.in[rc.at+5 : rc.at+1+size]
	rc.at += 1 + size
	return t, body, nil
}

// skip discards n bytes of the stream.
func (rc *rawConn) skip(n int) error {
	for {
		if have := rc.end - rc.at; have >= n {
			rc.at += n
			return nil
		} else {
			n -= have
		}
		rc.at, rc.end = 0, 0
		if err := rc.fill(); err != nil {
			return err
		}
	}
}

// parseError decodes an ErrorResponse as pgx does.
func parseError(body []byte) error {
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil {
		return fmt.Errorf("pbenchd: undecodable error from the server: %w", err)
	}
	return pgconn.ErrorResponseToPgError(&msg)
}

// shutdown cuts a call in flight short: its read or write returns at once.
func (rc *rawConn) shutdown() { _ = syscall.Shutdown(rc.fd, syscall.SHUT_RDWR) }

// close says goodbye to the server (Terminate) and closes the socket.
func (rc *rawConn) close() {
	_ = syscall.Sendto(rc.fd, []byte{'X', 0, 0, 0, 4}, syscall.MSG_DONTWAIT, nil)
	_ = syscall.Close(rc.fd)
}

// isPgError tells whether err is the server's answer (the connection is
// still in step with it).
func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}
