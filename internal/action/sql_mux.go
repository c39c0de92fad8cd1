package action

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pbenchd/pbenchd/internal/target"
)

// Mux takes the runner's reused connections for an event loop (see
// Muxer): only when every one of them was taken over from pgx (raw), or
// is to be made again, and none is bound to a worker. Its sockets are
// switched to non-blocking mode until Release.
func (r *sqlRunner) Mux() (Mux, bool) {
	if !r.raw || r.conns == nil {
		return nil, false
	}
	taken := make([]*reusedConn, 0, cap(r.conns))
	giveBack := func() {
		for _, c := range taken {
			r.conns <- c
		}
	}
	for len(taken) < cap(r.conns) {
		select {
		case c := <-r.conns:
			taken = append(taken, c)
			if c != nil && c.raw == nil {
				giveBack() // a pgx connection (TLS): workers drive it
				return nil, false
			}
		default:
			giveBack()
			return nil, false
		}
	}
	m := &sqlMux{r: r, slots: make([]muxSlot, len(taken))}
	m.stamped.Store(true)
	for i, c := range taken {
		m.slots[i].c = c
		m.slots[i].buf = &fastBuf{params: make([][]byte, r.fast.nargs)}
		m.slots[i].oob = make([]byte, 64)
		if c != nil {
			if err := m.ready(c); err != nil {
				m.drop(i)
			}
		}
	}
	return m, true
}

// ready makes c's socket non-blocking and asks for receive timestamps;
// without them the mux is not Stamped.
func (m *sqlMux) ready(c *reusedConn) error {
	if err := syscall.SetNonblock(c.raw.fd, true); err != nil {
		return err
	}
	if stampSocket(c.raw.fd, true) != nil {
		m.stamped.Store(false)
	}
	return nil
}

// sqlMux is a runner's raw connections driven by an event loop.
type sqlMux struct {
	r       *sqlRunner
	slots   []muxSlot
	stamped atomic.Bool // every socket has receive timestamps
	// seen is set by the first answer that carried its receive time: the
	// kernel turns stamping on a moment after the first socket asks, and
	// answers that came before are not stamped.
	seen atomic.Bool
}

// muxSlot is one connection of a mux and the call in flight on it.
type muxSlot struct {
	c   *reusedConn // nil: none (closed, or not made yet)
	buf *fastBuf    // the call's parameters, kept for its retries
	// pending is what of the request the socket has not taken yet.
	pending []byte
	// failed is the server's error for the call, seen before its
	// ReadyForQuery; retries the reasons of the retries made.
	failed  error
	retries []string
	attempt int
	// skip is how many bytes of a message too large for the buffer are
	// still to be discarded.
	skip int
	// oob receives the control messages of a read; end is the receive
	// time of the call's last bytes read.
	oob []byte
	end time.Time
}

func (m *sqlMux) Slots() int             { return len(m.slots) }
func (m *sqlMux) Timeout() time.Duration { return m.r.timeout }
func (m *sqlMux) Stamped() bool          { return m.stamped.Load() && m.seen.Load() }
func (m *sqlMux) Pending(slot int) bool  { return len(m.slots[slot].pending) > 0 }

func (m *sqlMux) Fd(slot int) int {
	if c := m.slots[slot].c; c != nil {
		return c.raw.fd
	}
	return -1
}

func (m *sqlMux) Begin(slot int) error {
	s := &m.slots[slot]
	m.r.fast.encode(s.buf, m.r.nextArgs()) // rawEligible: every argument encodes
	s.failed, s.retries, s.attempt, s.skip, s.end = nil, nil, 0, 0, time.Time{}
	return m.send(slot)
}

// send writes the call's request (again, for a retry).
func (m *sqlMux) send(slot int) error {
	s := &m.slots[slot]
	s.pending = s.c.raw.request(s.buf.params)
	return m.Flush(slot)
}

func (m *sqlMux) Flush(slot int) error {
	s := &m.slots[slot]
	for len(s.pending) > 0 {
		n, err := rawIO(syscall.SYS_WRITE, s.c.raw.fd, s.pending)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return nil
		case err != nil:
			m.drop(slot)
			err = ioError("write", err)
			m.r.pg.Observe(err)
			return err
		}
		s.pending = s.pending[n:]
	}
	return nil
}

func (m *sqlMux) Advance(slot int) (bool, Result) {
	s := &m.slots[slot]
	for {
		t, body, ok, err := m.next(slot)
		if err != nil {
			return true, Result{Err: err, Retries: s.retries}
		}
		if !ok {
			return false, Result{}
		}
		switch t {
		case 'E':
			s.failed = parseError(body)
		case 'Z':
			err := s.failed
			m.r.pg.Observe(err)
			if reason := target.RetryReason(err); reason != "" && s.attempt < m.r.retries {
				s.attempt++
				s.retries = append(s.retries, reason)
				s.failed = nil
				if err := m.send(slot); err != nil {
					return true, Result{Err: err, Retries: s.retries}
				}
				continue
			}
			return true, Result{Err: err, Retries: s.retries, End: s.end}
		}
	}
}

// message returns the next whole message on s's connection, reading what
// the socket has (never waiting); ok is false when no whole message is
// there yet. A message larger than the buffer is skipped (its body is nil)
// unless it is an error, for which the buffer grows.
func (m *sqlMux) message(s *muxSlot) (t byte, body []byte, ok bool, err error) {
	rc := s.c.raw
	for {
		if s.skip > 0 {
			n := min(s.skip, rc.end-rc.at)
			rc.at += n
			s.skip -= n
		}
		if s.skip == 0 && rc.end-rc.at >= 5 {
			t = rc.in[rc.at]
			size := int(binary.BigEndian.Uint32(rc.in[rc.at+1:]))
			switch {
			case size < 4:
				return 0, nil, false, fmt.Errorf("pbenchd: message %q of length %d from the server", t, size)
			case 1+size > len(rc.in) && t != 'E':
				s.skip = 1 + size
				continue
			case 1+size > len(rc.in):
				grown := make([]byte, 1+size)
				rc.end = copy(grown, rc.in[rc.at:rc.end])
				rc.in, rc.at = grown, 0
			}
			if rc.end-rc.at >= 1+size {
				body = rc.in[rc.at+5 : rc.at+1+size]
				rc.at += 1 + size
				return t, body, true, nil
			}
		}
		// Read more, keeping what is not parsed yet.
		if rc.at > 0 {
			rc.end = copy(rc.in, rc.in[rc.at:rc.end])
			rc.at = 0
		}
		n, at, err := stampedRead(rc.fd, rc.in[rc.end:], s.oob)
		if !at.IsZero() {
			s.end = at
			if !m.seen.Load() {
				m.seen.Store(true)
			}
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, nil, false, nil
		case err != nil:
			return 0, nil, false, ioError("read", err)
		case n == 0:
			return 0, nil, false, io.ErrUnexpectedEOF
		}
		rc.end += n
	}
}

func (m *sqlMux) Idle(slot int) {
	for {
		if _, _, ok, err := m.next(slot); err != nil || !ok {
			return
		}
	}
}

// next is message on slot's connection; a failed read leaves the
// connection out of step with the server: it is closed, and the target
// told.
func (m *sqlMux) next(slot int) (t byte, body []byte, ok bool, err error) {
	t, body, ok, err = m.message(&m.slots[slot])
	if err != nil {
		m.drop(slot)
		m.r.pg.Observe(err)
	}
	return t, body, ok, err
}

func (m *sqlMux) Cut(slot int) { m.drop(slot) }

// drop closes slot's connection: it is out of step with the server.
func (m *sqlMux) drop(slot int) {
	s := &m.slots[slot]
	if s.c == nil {
		return
	}
	m.r.untrack(s.c)
	s.c.raw.close()
	s.c, s.pending = nil, nil
}

func (m *sqlMux) Connect(ctx context.Context, slot int) error {
	r := m.r
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	pc, err := r.pg.Connect(cctx, r.setup)
	if err != nil {
		return err
	}
	c, err := r.adopt(cctx, pc)
	if err != nil {
		return err
	}
	if c.raw == nil {
		r.untrack(c)
		c.c.Close(context.Background())
		return fmt.Errorf("pbenchd: the new connection is not a plain socket")
	}
	if err := m.ready(c); err != nil {
		r.untrack(c)
		c.raw.close()
		return fmt.Errorf("taking the connection over: %w", err)
	}
	reconnected(r.env)
	s := &m.slots[slot]
	s.c = c
	rc := c.raw
	rc.at, rc.end = 0, 0
	return nil
}

// Release puts the connections back in blocking mode and gives them back
// to the runner (a slot with none gives back nil: the next call on it
// connects).
func (m *sqlMux) Release() {
	for i := range m.slots {
		c := m.slots[i].c
		if c != nil && (syscall.SetNonblock(c.raw.fd, false) != nil || stampSocket(c.raw.fd, false) != nil) {
			m.drop(i)
			c = nil
		}
		m.r.conns <- c
	}
	m.slots = nil
}

// rawIO reads or writes (trap) on a non-blocking socket, which returns at
// once: without telling the runtime of a system call that could block
// (syscall.Read and Write do, and that bookkeeping is a tenth of the
// client's CPU per call here, measured).
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
