package termui

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/term"
)

// Terminal says what a writer is: whether a person watches it (a
// terminal) and how wide it is.
type Terminal struct {
	// TTY is true when the writer is a terminal: tables are boxed and live
	// progress redraws in place.
	TTY bool
	// Width is the number of columns: $COLUMNS when set (also off a
	// terminal, so a CI log can ask for a width), else the terminal's;
	// 0 off a terminal without $COLUMNS (no limit).
	Width int
}

// Detect looks at w and the environment variable COLUMNS.
func Detect(w io.Writer, getenv func(string) string) Terminal {
	var t Terminal
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.TTY = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			t.Width = cols
		}
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		t.Width = n
	}
	return t
}

// Layout is the table layout for this terminal.
func (t Terminal) Layout() Layout { return Layout{Width: t.Width, Boxed: t.TTY} }
