package target

import (
	"log/slog"
	"sync"
	"time"
)

// Health follows whether each target is up, as calls, probes and
// pre-checks find it, and logs each change of state once: "target down"
// with the error that showed it, "target up" with how long it was down.
// It outlives config reloads (the daemon keeps one), so a reload neither
// forgets a down target nor logs it again. Safe for concurrent use.
type Health struct {
	log *slog.Logger
	mu  sync.Mutex
	m   map[string]*health
	// OnUp, if set, is called (outside the lock) when a target comes back.
	OnUp func(name string)
}

type health struct {
	up    bool
	since time.Time
}

// NewHealth makes a Health that logs to log.
func NewHealth(log *slog.Logger) *Health {
	return &Health{log: log, m: map[string]*health{}}
}

// Report records what a call or check found. A target first seen up is
// not logged; first seen down, it is.
func (h *Health) Report(name string, up bool, err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	st, known := h.m[name]
	if known && st.up == up {
		h.mu.Unlock()
		return
	}
	now := time.Now()
	var downFor time.Duration
	if known {
		downFor = now.Sub(st.since)
	}
	h.m[name] = &health{up: up, since: now}
	onUp := h.OnUp
	h.mu.Unlock()
	switch {
	case !up:
		h.log.Warn("target down", "target", name, "err", err)
	case known:
		h.log.Info("target up", "target", name, "down_for", downFor.Round(time.Millisecond).String())
		if onUp != nil {
			onUp(name)
		}
	}
}

// Up reports whether the target was last seen up, and whether it was
// seen at all.
func (h *Health) Up(name string) (up, known bool) {
	if h == nil {
		return false, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.m[name]
	if !ok {
		return false, false
	}
	return st.up, true
}

// SetHealth makes the set's targets report their state changes to h.
// Call it before the first use of a target.
func (s *Set) SetHealth(h *Health) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health = h
}
