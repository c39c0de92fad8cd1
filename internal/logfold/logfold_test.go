package logfold

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestFold: identical error lines in a window become the first line and
// one line with the count; different errors, other scenarios, lines
// without an error and lines of no scenario pass through.
func TestFold(t *testing.T) {
	var buf syncBuf
	h := NewWindow(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}), 200*time.Millisecond)
	log := slog.New(h)
	sc := log.With("scenario", "a")
	for i := range 5 {
		sc.Error("iteration failed", "took", time.Duration(i)*time.Millisecond, "err", "connection refused")
	}
	sc.Error("iteration failed", "err", "other")
	log.With("scenario", "b").Error("iteration failed", "err", "connection refused")
	log.Warn("no error attribute")
	log.Warn("no error attribute")
	log.Info("info", "err", "x")
	log.Info("info", "err", "x")
	log.Error("config reload failed", "err", "bad")
	log.Error("config reload failed", "err", "bad")
	// The window ends 200ms after the first line; the fold's line is
	// written then. Waiting 2s leaves room for a loaded machine.
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(buf.String(), "repeated=") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	want := `level=ERROR msg="iteration failed" scenario=a took=0s err="connection refused"
level=ERROR msg="iteration failed" scenario=a err=other
level=ERROR msg="iteration failed" scenario=b err="connection refused"
level=WARN msg="no error attribute"
level=WARN msg="no error attribute"
level=INFO msg=info err=x
level=INFO msg=info err=x
level=ERROR msg="config reload failed" err=bad
level=ERROR msg="config reload failed" err=bad
level=ERROR msg="iteration failed" scenario=a took=4ms err="connection refused" repeated=4 over=200ms
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
