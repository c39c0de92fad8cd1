package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/target"
)

// boundedProducer produces records and waits for their acknowledgement no
// longer than a call's timeout, whatever the client does meanwhile.
// franz-go does not fail idempotent records whose outcome is unknown (a
// broker died with the produce request in flight), not even when their
// context ends (twmb/franz-go #930), so a plain ProduceSync can block
// forever. Here the wait is pbenchd's own: a call that times out returns
// at its deadline, and the client it used, which may hold records it
// will never give up, is replaced by a fresh one (the old one is closed
// in the background, which fails those records).
type boundedProducer struct {
	k    *target.Kafka
	mk   func() (*kgo.Client, error)
	log  *slog.Logger
	mu   sync.Mutex
	cl   *kgo.Client
	err  error // why the last replacement failed; the next call retries
	dead bool
	// replaced counts clients given up on, for tests and logs.
	replaced atomic.Int64
}

func newBoundedProducer(k *target.Kafka, log *slog.Logger, mk func() (*kgo.Client, error)) (*boundedProducer, error) {
	cl, err := mk()
	if err != nil {
		return nil, err
	}
	return &boundedProducer{k: k, mk: mk, log: log, cl: cl}, nil
}

// client returns the current client, making one if the last replacement
// failed.
func (p *boundedProducer) client() (*kgo.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return nil, errClosed
	}
	if p.cl == nil {
		p.cl, p.err = p.mk()
	}
	return p.cl, p.err
}

// giveUp replaces cl, if it is still the current client, by a new one.
func (p *boundedProducer) giveUp(cl *kgo.Client, why error) {
	p.mu.Lock()
	if p.cl != cl || p.dead {
		p.mu.Unlock()
		return
	}
	p.cl, p.err = p.mk()
	p.mu.Unlock()
	n := p.replaced.Add(1)
	if p.log != nil {
		p.log.Warn("Kafka producer client replaced: records were not acknowledged within the call's timeout",
			"target", p.k.Name, "replaced", n, "err", why)
	}
	go cl.Close()
}

// produce sends recs and waits until all are acknowledged, ctx ends or
// timeout passes, whichever comes first.
func (p *boundedProducer) produce(ctx context.Context, timeout time.Duration, recs ...*kgo.Record) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	var (
		left  atomic.Int64
		first atomic.Pointer[error]
		done  = make(chan struct{})
	)
	left.Store(int64(len(recs)))
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			first.CompareAndSwap(nil, &err)
		}
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	// The records' own context outlives the wait by a second, so that
	// franz-go fails them by its delivery timeout (with the cause it met)
	// rather than by a context ending at the same instant as the wait;
	// ending it once the call returns frees what was never sent. Produce
	// may block while the client's buffer is full: it runs apart, so the
	// wait stays the call's timeout.
	rctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	go func() {
		for _, r := range recs {
			cl.Produce(rctx, r, promise)
		}
	}()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	result := func() error {
		if e := first.Load(); e != nil {
			return *e
		}
		return nil
	}
	select {
	case <-done:
		return result()
	case <-ctx.Done():
		select {
		case <-done:
			return result()
		default:
		}
		// Stopped or cut off by pbenchd: the runner is about to close.
		return fmt.Errorf("%d of %d records not acknowledged: %w", left.Load(), len(recs), ctx.Err())
	case <-wait.C:
	}
	select {
	case <-done: // finished in the same instant
		return result()
	default:
	}
	// kgo.ErrRecordTimeout, as franz-go itself says when it gives up on a
	// record, so the class is the same (timeout, or connect once Explain
	// adds that no broker could be reached).
	err = fmt.Errorf("%d of %d records not acknowledged within %s: %w", left.Load(), len(recs), timeout, kgo.ErrRecordTimeout)
	p.giveUp(cl, err)
	return err
}

var errClosed = errors.New("runner closed")

// close closes the current client, waiting at most target.CloseGrace.
func (p *boundedProducer) close() {
	p.mu.Lock()
	cl := p.cl
	p.cl, p.dead = nil, true
	p.mu.Unlock()
	if cl != nil {
		target.CloseClient(cl)
	}
}
