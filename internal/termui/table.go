// Package termui owns what pbenchd prints for a person or a program: tables
// in the formats --format offers (a table sized to the terminal, markdown,
// JSON, CSV), the terminal's width, and the live progress block redrawn
// during a phase.
//
// A table is data first: a header and rows of cells, any number of
// columns, so that a new figure is a new column and every format shows it.
// The table layout wraps or elides long cells to fit the width and never
// breaks the row structure: a row is as many lines as its tallest cell.
package termui

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Formats are the values --format takes.
var Formats = []string{"table", "markdown", "json", "csv"}

// CheckFormat returns an error naming the allowed formats when f is not one.
func CheckFormat(f string) error {
	if slices.Contains(Formats, f) {
		return nil
	}
	return fmt.Errorf("--format %q is not one of %s", f, strings.Join(Formats, ", "))
}

// Column describes one column of a table.
type Column struct {
	// Title heads the column in table and markdown layouts.
	Title string
	// Key names the column in JSON and CSV; default Title.
	Key string
	// Right aligns the column to the right (numbers).
	Right bool
	// Elide cuts a long cell with "…" instead of wrapping it: text whose
	// beginning says enough (a description).
	Elide bool
	// Min is the narrowest the column may be squeezed to; default the
	// width of its title, at most 12.
	Min int
	// Keep never squeezes the column (names that must read whole).
	// Right-aligned columns (numbers) are never squeezed either.
	Keep bool
	// Group names a set of adjacent columns that, when the table is too
	// wide, are drawn as one column titled Group whose cells hold a line
	// per member, "title value" (latency: avg, p50, p95, p99, max). Groups
	// collapse in order of Collapse until the table fits.
	Group string
	// Collapse orders groups for collapsing: the lowest first (0 is never).
	Collapse int
}

func (c Column) key() string {
	if c.Key != "" {
		return c.Key
	}
	return c.Title
}

// Table is a header and rows. A cell may hold several lines ("\n"); JSON
// and CSV keep them as one value, lines joined by "; ".
type Table struct {
	// Title is printed above the table (table and markdown layouts).
	Title   string
	Columns []Column
	Rows    [][]string
	// Notes are footnotes printed under the table (table and markdown).
	Notes []string
}

// Add appends a row; cells beyond the columns are an error of the caller.
func (t *Table) Add(cells ...any) {
	if len(cells) != len(t.Columns) {
		panic(fmt.Sprintf("termui: a row of %d cells in a table of %d columns", len(cells), len(t.Columns)))
	}
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Layout says how a table is drawn.
type Layout struct {
	// Width is the most columns a line may take; 0 is no limit.
	Width int
	// Boxed draws the table with box-drawing lines (a terminal); otherwise
	// columns are separated by spaces and the header underlined, which
	// reads well in a CI log and greps well.
	Boxed bool
}

// Write writes the table in format f ("table", "markdown", "csv"; "json"
// writes the rows as objects keyed by column).
func (t *Table) Write(w io.Writer, f string, l Layout) error {
	switch f {
	case "table":
		_, err := io.WriteString(w, t.text(l))
		return err
	case "markdown":
		_, err := io.WriteString(w, t.markdown())
		return err
	case "csv":
		return t.csv(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(t.Objects())
	}
	return CheckFormat(f)
}

// Objects returns the rows as maps from column key to cell, for JSON.
func (t *Table) Objects() []map[string]string {
	out := make([]map[string]string, 0, len(t.Rows))
	for _, r := range t.Rows {
		m := make(map[string]string, len(r))
		for i, c := range r {
			m[t.Columns[i].key()] = oneLine(c)
		}
		out = append(out, m)
	}
	return out
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func (t *Table) csv(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.key()
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range t.Rows {
		row := make([]string, len(r))
		for i, c := range r {
			row[i] = oneLine(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (t *Table) markdown() string {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdEscape(t.Title))
	}
	b.WriteString("|")
	for _, c := range t.Columns {
		b.WriteString(" " + mdEscape(c.Title) + " |")
	}
	b.WriteString("\n|")
	for _, c := range t.Columns {
		if c.Right {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + strings.ReplaceAll(mdEscape(c), "\n", "<br>") + " |")
		}
		b.WriteString("\n")
	}
	for _, n := range t.Notes {
		fmt.Fprintf(&b, "\n%s\n", mdEscape(n))
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// text lays the table out in columns that fit l.Width, collapsing
// groups of columns when even their narrowest widths do not fit.
func (t *Table) text(l Layout) string {
	if len(t.Columns) == 0 {
		return ""
	}
	tt := t
	if l.Width > 0 {
		for _, g := range t.groups() {
			if tt.minWidth(l) <= l.Width {
				break
			}
			tt = tt.collapse(g)
		}
		// Box lines take three columns a column: drop them before cutting
		// names.
		if l.Boxed && tt.minWidth(l) > l.Width {
			l.Boxed = false
		}
	}
	return tt.draw(l)
}

// groups lists the table's groups in the order they collapse.
func (t *Table) groups() []string {
	var gs []string
	order := map[string]int{}
	for _, c := range t.Columns {
		if c.Group != "" && c.Collapse > 0 && !slices.Contains(gs, c.Group) {
			gs = append(gs, c.Group)
			order[c.Group] = c.Collapse
		}
	}
	slices.SortStableFunc(gs, func(a, b string) int { return order[a] - order[b] })
	return gs
}

// minWidth is the width of the table with every column squeezed as far
// as it goes before names and numbers are cut.
func (t *Table) minWidth(l Layout) int {
	widths := t.naturalWidths()
	cols := slices.Clone(t.Columns)
	for i := range cols {
		if cols[i].Keep || cols[i].Right {
			cols[i].Min = widths[i]
		}
	}
	fit(widths, cols, 0)
	sep, edge := 2, 0
	if l.Boxed {
		sep, edge = 3, 4
	}
	return sum(widths) + edge + sep*(len(widths)-1)
}

// collapse returns the table with the columns of group g drawn as one.
func (t *Table) collapse(g string) *Table {
	out := &Table{Title: t.Title, Notes: t.Notes}
	var members []int
	at := -1
	for i, c := range t.Columns {
		if c.Group == g {
			if at < 0 {
				at = len(out.Columns)
				out.Columns = append(out.Columns, Column{Title: g, Keep: true})
			}
			members = append(members, i)
			continue
		}
		out.Columns = append(out.Columns, c)
	}
	tw := 0
	for _, m := range members {
		tw = max(tw, width(t.Columns[m].Title))
	}
	for _, r := range t.Rows {
		var row []string
		var lines []string
		for i, c := range r {
			if t.Columns[i].Group != g {
				row = append(row, c)
				continue
			}
			if len(lines) == 0 {
				row = append(row, "") // filled below
			}
			title := t.Columns[i].Title
			lines = append(lines, title+strings.Repeat(" ", tw-width(title))+" "+oneLine(c))
		}
		row[at] = strings.Join(lines, "\n")
		out.Rows = append(out.Rows, row)
	}
	return out
}

// naturalWidths are the longest line of each column, title included.
func (t *Table) naturalWidths() []int {
	widths := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = width(c.Title)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			for _, line := range strings.Split(c, "\n") {
				widths[i] = max(widths[i], width(line))
			}
		}
	}
	return widths
}

// draw lays the table out in its columns, squeezed to fit l.Width.
func (t *Table) draw(l Layout) string {
	n := len(t.Columns)
	widths := t.naturalWidths()
	sep, edge := 2, 0 // "  " between columns
	if l.Boxed {
		sep, edge = 3, 4 // "│ " … " │ " … " │"
	}
	if l.Width > 0 {
		fit(widths, t.Columns, l.Width-edge-sep*(n-1))
	}
	cell := func(i int, s string) []string {
		if t.Columns[i].Elide {
			var out []string
			for _, line := range strings.Split(s, "\n") {
				out = append(out, elide(line, widths[i]))
			}
			return out
		}
		return Wrap(s, widths[i])
	}
	var b strings.Builder
	if t.Title != "" {
		for _, line := range wrapTo(t.Title, l.Width) {
			b.WriteString(line + "\n")
		}
	}
	rule := func(left, mid, right string) {
		if !l.Boxed {
			return
		}
		b.WriteString(left)
		for i, w := range widths {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", w+2))
		}
		b.WriteString(right + "\n")
	}
	line := func(cells [][]string) {
		h := 0
		for _, c := range cells {
			h = max(h, len(c))
		}
		for k := range h {
			var lb strings.Builder
			if l.Boxed {
				lb.WriteString("│ ")
			}
			for i, c := range cells {
				if i > 0 {
					if l.Boxed {
						lb.WriteString(" │ ")
					} else {
						lb.WriteString("  ")
					}
				}
				s := ""
				if k < len(c) {
					s = c[k]
				}
				pad := strings.Repeat(" ", max(widths[i]-width(s), 0))
				if t.Columns[i].Right {
					lb.WriteString(pad + s)
				} else {
					lb.WriteString(s + pad)
				}
			}
			if l.Boxed {
				lb.WriteString(" │")
			}
			b.WriteString(strings.TrimRight(lb.String(), " ") + "\n")
		}
	}
	rule("┌", "┬", "┐")
	head := make([][]string, n)
	for i, c := range t.Columns {
		head[i] = Wrap(c.Title, widths[i])
	}
	line(head)
	if l.Boxed {
		rule("├", "┼", "┤")
	} else {
		under := make([][]string, n)
		for i := range under {
			under[i] = []string{strings.Repeat("-", widths[i])}
		}
		line(under)
	}
	for _, r := range t.Rows {
		cells := make([][]string, n)
		for i, c := range r {
			cells[i] = cell(i, c)
		}
		line(cells)
	}
	rule("└", "┴", "┘")
	for _, note := range t.Notes {
		for _, l := range wrapTo(note, l.Width) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// fit narrows columns until their sum is at most avail: elided columns
// first (their beginning says enough), then the others, always the widest
// first, down to their minimum; kept and right-aligned columns (names,
// numbers) only as a last resort. A table that cannot fit even so is drawn
// at its minimum widths (wider than avail) rather than broken.
func fit(widths []int, cols []Column, avail int) {
	mins := make([]int, len(cols))
	for i, c := range cols {
		mins[i] = c.Min
		if mins[i] == 0 {
			mins[i] = min(width(c.Title), 12)
		}
		mins[i] = min(mins[i], widths[i])
	}
	floors := make([][]int, 3)
	for p := range floors {
		floors[p] = make([]int, len(cols))
	}
	for i, c := range cols {
		kept := c.Keep || c.Right
		floors[0][i] = widths[i]
		if c.Elide {
			floors[0][i] = max(mins[i], min(widths[i], elideFloor))
		}
		floors[1][i] = mins[i]
		if kept {
			floors[1][i] = widths[i]
		}
		floors[2][i] = mins[i]
	}
	for _, floor := range floors {
		for sum(widths) > avail {
			widest := -1
			for i, w := range widths {
				if w > floor[i] && (widest < 0 || w > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				break
			}
			widths[widest]--
		}
	}
}

// elideFloor is how much of an elided cell reads as a beginning.
const elideFloor = 32

func sum(s []int) int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

// width is the number of terminal columns s takes: one a rune (pbenchd
// prints no wide characters).
func width(s string) int { return utf8.RuneCountInString(s) }

// Wrap breaks s into lines of at most w runes, at spaces where it can and
// inside a word where it must; lines of s stay lines.
func Wrap(s string, w int) []string {
	w = max(w, 1)
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for width(word) > w {
				if line != "" {
					out = append(out, line)
					line = ""
				}
				r := []rune(word)
				out = append(out, string(r[:w]))
				word = string(r[w:])
			}
			switch {
			case line == "":
				line = word
			case width(line)+1+width(word) <= w:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		out = append(out, line)
	}
	return out
}

// wrapTo wraps s to w, or not at all when w is 0 (no limit).
func wrapTo(s string, w int) []string {
	if w <= 0 {
		return strings.Split(s, "\n")
	}
	return Wrap(s, w)
}

// elide cuts s to w runes, marking the cut with "…".
func elide(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	if w <= 1 {
		return "…"
	}
	return string(r[:w-1]) + "…"
}
