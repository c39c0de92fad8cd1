package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// Bars draws one progress bar per table (rows, rows/s, time left) on a
// terminal, redrawn in place a few times a second.
type Bars struct {
	w      io.Writer
	mu     sync.Mutex
	bars   map[string]*progressbar.ProgressBar
	names  []string
	drawn  int
	stop   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup
}

// NewBars starts drawing bars for the tables on w (a terminal).
func NewBars(w io.Writer, totals map[string]int64) *Bars {
	b := &Bars{w: w, bars: map[string]*progressbar.ProgressBar{}, stop: make(chan struct{})}
	for t := range totals {
		b.names = append(b.names, t)
	}
	sort.Strings(b.names)
	width := 0
	for _, t := range b.names {
		width = max(width, len(t))
	}
	for _, t := range b.names {
		b.bars[t] = progressbar.NewOptions64(max(totals[t], 1),
			progressbar.OptionSetWriter(io.Discard),
			progressbar.OptionSetDescription(fmt.Sprintf("%-*s", width, t)),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(0),
		)
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

func (b *Bars) loop() {
	defer b.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.draw()
			return
		case <-t.C:
			b.draw()
		}
	}
}

func (b *Bars) draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn) // back to the first line
	}
	for _, t := range b.names {
		sb.WriteString("\r\x1b[2K")
		sb.WriteString(strings.TrimSpace(b.bars[t].String()))
		sb.WriteString("\n")
	}
	b.drawn = len(b.names)
	_, _ = io.WriteString(b.w, sb.String())
}

// Rows implements loader.Progress.
func (b *Bars) Rows(table string, rows int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bar, ok := b.bars[table]; ok {
		_ = bar.Add64(rows)
	}
}

// Step implements loader.Progress: a table whose data is in shows its
// current step (index, analyze…) at the end of its line.
func (b *Bars) Step(table string, step loader.Step) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bar, ok := b.bars[table]; ok {
		switch step {
		case loader.StepSkipped:
			_ = bar.Set64(bar.GetMax64())
			bar.Describe(bar.State().Description + " (already loaded)")
		}
	}
}

// Close draws the final state and stops.
func (b *Bars) Close() {
	b.closed.Do(func() {
		close(b.stop)
		b.wg.Wait()
	})
}
