package termui

import (
	"bytes"
	"testing"
)

// TestLive checks the escape sequences: each Draw first erases the lines
// of the previous one, Clear erases them and leaves the cursor where the
// block began.
func TestLive(t *testing.T) {
	var b bytes.Buffer
	l := NewLive(&b)
	l.Draw([]string{"a", "b"})
	l.Draw([]string{"c"})
	l.Clear()
	up := "\x1b[1A\r\x1b[2K"
	if want := "a\nb\n" + up + up + "c\n" + up; b.String() != want {
		t.Errorf("%q, want %q", b.String(), want)
	}
}
