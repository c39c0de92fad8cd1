package termui

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func sample() *Table {
	t := &Table{
		Columns: []Column{{Title: "name", Keep: true}, {Title: "n", Right: true}, {Title: "note", Key: "notes"}},
		Notes:   []string{"¹ a note"},
	}
	t.Add("alpha", 1, "one | two\nthree")
	t.Add("b", 22, "")
	return t
}

// TestFormats checks each format's exact text: the same rows in each,
// lines of a cell joined by "; " where a format has one line a cell.
func TestFormats(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"markdown", "| name | n | note |\n| --- | ---: | --- |\n| alpha | 1 | one \\| two<br>three |\n| b | 22 |  |\n\n¹ a note\n"},
		{"csv", "name,n,notes\nalpha,1,one | two; three\nb,22,\n"},
		{"json", "[\n  {\n    \"n\": \"1\",\n    \"name\": \"alpha\",\n    \"notes\": \"one | two; three\"\n  },\n  {\n    \"n\": \"22\",\n    \"name\": \"b\",\n    \"notes\": \"\"\n  }\n]\n"},
		{"table", "name    n  note\n-----  --  ---------\nalpha   1  one | two\n           three\nb      22\n¹ a note\n"},
	} {
		var b bytes.Buffer
		if err := sample().Write(&b, tc.format, Layout{}); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n%q\nwant:\n%q", tc.format, b.String(), tc.want)
		}
	}
	if err := sample().Write(&bytes.Buffer{}, "html", Layout{}); err == nil || err.Error() != `--format "html" is not one of table, markdown, json, csv` {
		t.Errorf("an unknown format: %v", err)
	}
}

// TestFitNeverBreaksRows draws a table at widths from 100 down to 10: every
// row keeps its cells (each line has the column separators at the same
// places as the header), and no line is wider than asked unless the
// narrowest layout is wider still.
func TestFitNeverBreaksRows(t *testing.T) {
	tb := &Table{Columns: []Column{
		{Title: "scenario", Keep: true}, {Title: "about", Elide: true},
		{Title: "a", Right: true, Group: "g", Collapse: 1}, {Title: "bb", Right: true, Group: "g", Collapse: 1},
		{Title: "text"},
	}}
	tb.Add("first_scenario", "a long description that elides well enough", 1, 22, "words that wrap onto lines")
	tb.Add("s2", "short", 333, 4, "x")
	for w := 100; w >= 10; w-- {
		for _, boxed := range []bool{true, false} {
			out := tb.text(Layout{Width: w, Boxed: boxed})
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for _, l := range lines {
				if width(l) > w && width(l) > minLine(tb) {
					t.Fatalf("width %d boxed %v: line %q is %d wide", w, boxed, l, width(l))
				}
			}
			if boxed && strings.HasPrefix(lines[0], "┌") {
				// Every body line has as many │ as the header.
				n := strings.Count(lines[1], "│")
				for _, l := range lines[1 : len(lines)-1] {
					if !strings.HasPrefix(l, "├") && strings.Count(l, "│") != n {
						t.Fatalf("width %d: line %q has %d separators, the header %d", w, l, strings.Count(l, "│"), n)
					}
				}
			}
			if !strings.Contains(out, "first_scenario") && !strings.Contains(out, "first_sc") {
				t.Fatalf("width %d: the name is lost:\n%s", w, out)
			}
		}
	}
}

// minLine is the widest line of the table at its narrowest.
func minLine(tb *Table) int {
	out := tb.collapse("g").draw(Layout{Width: 1})
	n := 0
	for _, l := range strings.Split(out, "\n") {
		n = max(n, width(l))
	}
	return n
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w    int
		want []string
	}{
		{"a bb ccc", 4, []string{"a bb", "ccc"}},
		{"abcdefgh", 3, []string{"abc", "def", "gh"}},
		{"x\ny z", 10, []string{"x", "y z"}},
		{"", 5, []string{""}},
	} {
		if got := Wrap(tc.in, tc.w); !slices.Equal(got, tc.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}
