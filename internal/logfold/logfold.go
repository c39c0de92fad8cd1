// Package logfold folds repeated identical error lines into one: a
// failing target or a broken step would otherwise write the same line
// again and again. The first line is written as it is; identical ones in
// the next Window are counted, and at its end one line says how many there
// were (repeated=N), with the last one's attributes.
package logfold

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Window is how long identical lines are folded after the first.
const Window = time.Minute

// keyAttrs are the attributes that tell two lines apart; the others
// (durations, counts) differ between lines that say the same thing.
var keyAttrs = map[string]bool{"scenario": true, "action": true, "target": true, "step": true, "err": true, "phase": true, "table": true}

// Handler folds identical warning and error lines of a scenario (lines
// that carry both a scenario and an err attribute: what a failing target
// or step repeats), and passes every other line through, so that a line
// about something a person did (a refused reload) is always written.
type Handler struct {
	next   slog.Handler
	st     *state
	prefix string // key part of the attributes added by WithAttrs
	hasErr bool
	hasSc  bool
}

type state struct {
	mu     sync.Mutex
	window time.Duration
	folds  map[string]*fold
}

type fold struct {
	count int
	last  slog.Record
	h     slog.Handler
}

// New wraps next.
func New(next slog.Handler) *Handler { return NewWindow(next, Window) }

// NewWindow wraps next with a folding window other than Window (tests).
func NewWindow(next slog.Handler, window time.Duration) *Handler {
	return &Handler{next: next, st: &state{window: window, folds: map[string]*fold{}}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.next = h.next.WithAttrs(as)
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		if keyAttrs[a.Key] {
			b.WriteString(a.Key + "=" + a.Value.String() + " ")
			n.hasErr = n.hasErr || a.Key == "err"
			n.hasSc = n.hasSc || a.Key == "scenario"
		}
	}
	n.prefix = b.String()
	return &n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	n := *h
	n.next = h.next.WithGroup(name)
	n.prefix += name + ". "
	return &n
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message + " " + h.prefix)
	hasErr, hasSc := h.hasErr, h.hasSc
	r.Attrs(func(a slog.Attr) bool {
		if keyAttrs[a.Key] {
			b.WriteString(a.Key + "=" + a.Value.String() + " ")
			hasErr = hasErr || a.Key == "err"
			hasSc = hasSc || a.Key == "scenario"
		}
		return true
	})
	if !hasErr || !hasSc {
		return h.next.Handle(ctx, r)
	}
	key := b.String()
	st := h.st
	st.mu.Lock()
	if f, ok := st.folds[key]; ok {
		f.count++
		f.last, f.h = r.Clone(), h.next
		st.mu.Unlock()
		return nil
	}
	st.folds[key] = &fold{}
	st.mu.Unlock()
	time.AfterFunc(st.window, func() { st.flush(key) })
	return h.next.Handle(ctx, r)
}

// flush ends a window: the count of the lines folded, if any.
func (st *state) flush(key string) {
	st.mu.Lock()
	f := st.folds[key]
	delete(st.folds, key)
	st.mu.Unlock()
	if f == nil || f.count == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), f.last.Level, f.last.Message, 0)
	f.last.Attrs(func(a slog.Attr) bool { r.AddAttrs(a); return true })
	r.AddAttrs(slog.Int("repeated", f.count), slog.String("over", st.window.String()))
	_ = f.h.Handle(context.Background(), r)
}
