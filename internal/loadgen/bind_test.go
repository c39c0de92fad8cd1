package loadgen

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
)

// binding is a Binder: each worker's caller counts its own calls.
type binding struct {
	binds, releases, shared atomic.Int64
	callsBound              atomic.Int64
}

func (b *binding) Call(context.Context) action.Result {
	b.shared.Add(1)
	return action.Result{}
}

func (b *binding) Bind() (action.Caller, func()) {
	b.binds.Add(1)
	return callerFunc(func(context.Context) action.Result {
		b.callsBound.Add(1)
		return action.Result{}
	}), func() { b.releases.Add(1) }
}

// TestBindPerWorker: every closed-loop worker and every open-loop worker
// binds once, makes all its calls through its bound caller, and releases
// it when it ends.
func TestBindPerWorker(t *testing.T) {
	closed, open := &binding{}, &binding{}
	rec := NewRecorder(time.Now(), 0)
	l := &OpenLoop{Pacer: periodic(t, "2000/s"), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 4, Servers: 2,
		Run: open, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
	Run(context.Background(), Phase{Start: time.Now(), Duration: 200 * time.Millisecond, Drain: time.Second,
		Closed: []*ClosedLoop{{Workers: 3, Run: closed, NewSink: func() Sink { return rec.NewShard() }}},
		Open:   []*OpenLoop{l}})
	if closed.binds.Load() != 3 || closed.releases.Load() != 3 || closed.shared.Load() != 0 || closed.callsBound.Load() == 0 {
		t.Errorf("closed: %d binds, %d releases, %d calls bound, %d not; want 3, 3, some and 0",
			closed.binds.Load(), closed.releases.Load(), closed.callsBound.Load(), closed.shared.Load())
	}
	_, workers := l.Inflight()
	if open.binds.Load() != int64(workers) || open.releases.Load() != open.binds.Load() || open.shared.Load() != 0 || open.callsBound.Load() == 0 {
		t.Errorf("open: %d workers, %d binds, %d releases, %d calls bound, %d not", workers,
			open.binds.Load(), open.releases.Load(), open.callsBound.Load(), open.shared.Load())
	}
}
