package grafana

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The tests read PromQL without a PromQL library: promtool, which they need
// anyway, tells whether an expression parses (parseWithPromtool), and the
// small scanner below finds the series an expression selects, which is all
// the contract checks need. PromQL's grammar for selectors is small: an
// identifier that is not a function, an aggregation modifier, a keyword or
// a label in a by/on list, optionally followed by {matchers}, or a bare
// {matchers}.

// selector is one vector selector of an expression.
type selector struct {
	Name     string
	Matchers []matcher
	// InQuantile tells whether the selector is an argument of
	// histogram_quantile, at any depth.
	InQuantile bool
}

type matcher struct {
	Name, Op, Value string
}

// keywords are identifiers that are never series names.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "atan2": true, "inf": true, "nan": true,
}

// aggregations may put a by/without list between their name and their
// parenthesis.
var aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true}

// labelLists are the keywords followed by a parenthesized list of labels.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'p' punctuation or operator
	text string
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // a comment runs to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			raw := s[i : j+1]
			v := raw[1 : len(raw)-1]
			if c != '`' {
				q := raw
				if c == '\'' {
					q = `"` + strings.ReplaceAll(strings.ReplaceAll(v, `\'`, `'`), `"`, `\"`) + `"`
				}
				uq, err := strconv.Unquote(q)
				if err != nil {
					return nil, fmt.Errorf("string %s: %w", raw, err)
				}
				v = uq
			}
			out = append(out, token{'s', v})
			i = j + 1
		case c == '_' || c == ':' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == ':' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, token{'i', s[i:j]})
			i = j
		case unicode.IsDigit(rune(c)) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || unicode.IsLetter(rune(s[j])) || s[j] == '.' ||
				((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{'n', s[i:j]})
			i = j
		default:
			for _, op := range []string{"=~", "!~", "!=", "==", ">=", "<=", "=", ">", "<", "(", ")", "{", "}", "[", "]", ",", "+", "-", "*", "/", "%", "^", "@"} {
				if strings.HasPrefix(s[i:], op) {
					out = append(out, token{'p', op})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		next:
		}
	}
	return out, nil
}

// selectors returns the vector selectors of a PromQL expression.
func selectors(expr string) ([]selector, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	var stack []string // the function of each open parenthesis ("" for grouping)
	pending := ""      // an aggregation whose parenthesis comes after its by/without list
	inQuantile := func() bool {
		for _, f := range stack {
			if f == "histogram_quantile" {
				return true
			}
		}
		return false
	}
	matchers := func(i int) ([]matcher, int, error) { // toks[i] is "{"
		var ms []matcher
		i++
		for i < len(toks) && toks[i].text != "}" {
			if i+2 >= len(toks) || toks[i].kind != 'i' || toks[i+1].kind != 'p' || toks[i+2].kind != 's' {
				return nil, i, fmt.Errorf("bad label matcher near %q", toks[i].text)
			}
			ms = append(ms, matcher{toks[i].text, toks[i+1].text, toks[i+2].text})
			i += 3
			if i < len(toks) && toks[i].text == "," {
				i++
			}
		}
		if i >= len(toks) {
			return nil, i, fmt.Errorf("unclosed {")
		}
		return ms, i, nil
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		nextIs := func(s string) bool { return i+1 < len(toks) && toks[i+1].text == s && toks[i+1].kind == 'p' }
		switch {
		case t.kind == 'i' && labelLists[t.text] && nextIs("("):
			for i < len(toks) && toks[i].text != ")" {
				i++
			}
		case t.kind == 'i' && t.text == "offset":
			i++ // its duration
		case t.kind == 'i' && nextIs("("):
			stack = append(stack, t.text)
			i++
		case t.kind == 'i' && aggregations[t.text]:
			pending = t.text
		case t.kind == 'i' && !keywords[t.text]:
			sel := selector{Name: t.text, InQuantile: inQuantile()}
			if nextIs("{") {
				ms, j, err := matchers(i + 1)
				if err != nil {
					return nil, err
				}
				sel.Matchers, i = ms, j
			}
			out = append(out, sel)
		case t.kind == 'p' && t.text == "{":
			ms, j, err := matchers(i)
			if err != nil {
				return nil, err
			}
			sel := selector{Matchers: ms, InQuantile: inQuantile()}
			for _, m := range ms {
				if m.Name == "__name__" && m.Op == "=" {
					sel.Name = m.Value
				}
			}
			out = append(out, sel)
			i = j
		case t.kind == 'p' && t.text == "[":
			for i < len(toks) && toks[i].text != "]" {
				i++
			}
		case t.kind == 'p' && t.text == "(":
			stack = append(stack, pending)
			pending = ""
		case t.kind == 'p' && t.text == ")":
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced )")
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unbalanced (")
	}
	return out, nil
}

var bareSelector = regexp.MustCompile(`^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{.*\})?\s*$`)

// selectorName returns the series name of an expression that is a bare
// vector selector (name or name{…}), else "".
func selectorName(expr string) string {
	if m := bareSelector.FindStringSubmatch(expr); m != nil && !keywords[m[1]] {
		return m[1]
	}
	return ""
}

// parseWithPromtool has promtool parse every expression, as the exprs of
// recording rules of a generated rule file, and returns the error of each
// expression that does not parse, by index.
func parseWithPromtool(t *testing.T, exprs []string) map[int]string {
	t.Helper()
	var b strings.Builder
	b.WriteString("groups:\n")
	for i, e := range exprs {
		fmt.Fprintf(&b, "  - name: e%d\n    rules:\n      - record: pbenchd_check:e%d\n        expr: %s\n", i, i, strconv.Quote(e))
	}
	path := filepath.Join(t.TempDir(), "exprs.rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH: run `make test-deps`: %v", err)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err == nil {
		return nil
	}
	bad := map[int]string{}
	// promtool names the group and rule of each error: "group "e12", rule 1, ..."
	re := regexp.MustCompile(`group "e(\d+)", rule \d+, "[^"]*": (.*)`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		i, _ := strconv.Atoi(m[1])
		bad[i] = m[2]
	}
	if len(bad) == 0 {
		t.Fatalf("promtool check rules failed without naming an expression: %v\n%s", err, out)
	}
	return bad
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`up`, `up[]`},
		{`sum by (scenario, action) (rate(pbenchd_action_calls_total{job=~"a,b", outcome="ok"}[5m])) > bool 0`,
			`pbenchd_action_calls_total[job=~a,b outcome=ok]`},
		{`histogram_quantile(0.99, sum without (outcome) (rate(x_bucket[5m]))) or y offset 1h`, `x_bucket[]Q y[]`},
		{`a / on(instance, job) group_left(target) b{le="+Inf"}`, `a[] b[le=+Inf]`},
		{`{__name__="z", a!~'i\'t'}`, `z[__name__=z a!~i't]`},
		{`label_replace(q, "stat", "$1", "", "") and vector(1)`, `q[]`},
		{`max_over_time((a >= bool on(x) b)[5m:30s])`, `a[] b[]`},
	} {
		sels, err := selectors(tc.expr)
		if err != nil {
			t.Errorf("selectors(%q): %v", tc.expr, err)
			continue
		}
		var got []string
		for _, s := range sels {
			var ms []string
			for _, m := range s.Matchers {
				ms = append(ms, m.Name+m.Op+m.Value)
			}
			g := s.Name + "[" + strings.Join(ms, " ") + "]"
			if s.InQuantile {
				g += "Q"
			}
			got = append(got, g)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("selectors(%q) = %s, want %s", tc.expr, strings.Join(got, " "), tc.want)
		}
	}
	for _, bad := range []string{`sum(x`, `x{a="b"`, `x{a}`, `"open`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("selectors(%q): no error", bad)
		}
	}
	bad := parseWithPromtool(t, []string{`up`, `sum(`, `rate(x[5m])`, `x +`})
	if len(bad) != 2 || bad[1] == "" || bad[3] == "" {
		t.Errorf("parseWithPromtool: %v, want errors for expressions 1 and 3", bad)
	}
}
