package termui

import (
	"io"
	"strings"
	"sync"
)

// Live is a block of lines redrawn in place on a terminal, like pgbench's
// -P or k6's progress: each Draw replaces the previous block.
type Live struct {
	mu    sync.Mutex
	w     io.Writer
	drawn int
}

// NewLive draws on w, a terminal.
func NewLive(w io.Writer) *Live { return &Live{w: w} }

// Draw replaces the block with lines.
func (l *Live) Draw(lines []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	l.erase(&b)
	for _, line := range lines {
		b.WriteString(line + "\n")
	}
	l.drawn = len(lines)
	_, _ = io.WriteString(l.w, b.String())
}

// Clear removes the block, so that what follows starts where it began.
func (l *Live) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	l.erase(&b)
	l.drawn = 0
	_, _ = io.WriteString(l.w, b.String())
}

// erase moves up over the drawn lines, clearing each.
func (l *Live) erase(b *strings.Builder) {
	for range l.drawn {
		b.WriteString("\x1b[1A\r\x1b[2K")
	}
}
