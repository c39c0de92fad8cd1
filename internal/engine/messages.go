package engine

import (
	"context"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

// Bounds of the server messages kept per iteration.
const (
	// maxClassesKept is how many error classes of one action keep a
	// message; the others are counted only.
	maxClassesKept = 8
	// maxMessageLen is the most runes of a message kept.
	maxMessageLen = 300
)

// Message is the first message of one error class of one action in an
// iteration: what the server said, not only its class.
type Message struct {
	Action  string `json:"action"`
	Class   string `json:"class"`
	Message string `json:"message"`
}

// messageLog keeps the first message of each error class per action,
// bounded in count and length, secrets taken out, and logs each once (the
// rate limit: one line per class per action per iteration).
type messageLog struct {
	mu      sync.Mutex
	seen    map[string]map[string]bool // action → class
	kept    []Message
	secrets []string
	log     *slog.Logger
}

func newMessageLog(cfg *config.Config, log *slog.Logger) *messageLog {
	return &messageLog{seen: map[string]map[string]bool{}, secrets: secretsOf(cfg), log: log}
}

// take returns the messages kept so far, sorted, and starts afresh.
func (m *messageLog) take() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.kept
	m.kept, m.seen = nil, map[string]map[string]bool{}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Action != out[j].Action {
			return out[i].Action < out[j].Action
		}
		return out[i].Class < out[j].Class
	})
	return out
}

func (m *messageLog) add(scenario, act string, err error) {
	class := target.Classify(err)
	m.mu.Lock()
	classes := m.seen[act]
	if classes == nil {
		classes = map[string]bool{}
		m.seen[act] = classes
	}
	if classes[class] || len(classes) >= maxClassesKept {
		m.mu.Unlock()
		return
	}
	classes[class] = true
	msg := redact(err.Error(), m.secrets)
	if r := []rune(msg); len(r) > maxMessageLen {
		msg = string(r[:maxMessageLen-1]) + "…"
	}
	m.kept = append(m.kept, Message{Action: act, Class: class, Message: msg})
	m.mu.Unlock()
	m.log.Info("call failed (first of its class in this iteration)", "scenario", scenario, "action", act, "class", class, "message", msg)
}

// wrap returns run, with every failure's message offered to the log.
func (m *messageLog) wrap(scenario, act string, run action.Runner) action.Runner {
	return &messageRunner{Runner: run, m: m, scenario: scenario, action: act}
}

type messageRunner struct {
	action.Runner
	m                *messageLog
	scenario, action string
}

// Figures forwards the wrapped runner's own figures, if it has any.
func (r *messageRunner) Figures() []action.Figure {
	if f, ok := r.Runner.(action.Figurer); ok {
		return f.Figures()
	}
	return nil
}

// Servers forwards the wrapped runner's limit of calls at once, if any.
func (r *messageRunner) Servers() int {
	if s, ok := r.Runner.(action.Servers); ok {
		return s.Servers()
	}
	return 0
}

func (r *messageRunner) Call(ctx context.Context) action.Result {
	return messageCaller{r.Runner, r}.Call(ctx)
}

// Bind gives a worker the wrapped runner's bound caller, its messages
// kept alike.
func (r *messageRunner) Bind() (action.Caller, func()) {
	b, ok := r.Runner.(action.Binder)
	if !ok {
		return r, func() {}
	}
	c, release := b.Bind()
	return messageCaller{c, r}, release
}

// Mux gives an event loop the wrapped runner's connections, their
// messages kept alike.
func (r *messageRunner) Mux() (action.Mux, bool) {
	mx, ok := r.Runner.(action.Muxer)
	if !ok {
		return nil, false
	}
	m, ok := mx.Mux()
	if !ok {
		return nil, false
	}
	return messageMux{m, r}, true
}

type messageMux struct {
	action.Mux
	r *messageRunner
}

func (m messageMux) keep(err error) error {
	if err != nil {
		m.r.m.add(m.r.scenario, m.r.action, err)
	}
	return err
}

func (m messageMux) Begin(slot int) error { return m.keep(m.Mux.Begin(slot)) }
func (m messageMux) Flush(slot int) error { return m.keep(m.Mux.Flush(slot)) }

func (m messageMux) Connect(ctx context.Context, slot int) error {
	return m.keep(m.Mux.Connect(ctx, slot))
}

func (m messageMux) Advance(slot int) (bool, action.Result) {
	done, res := m.Mux.Advance(slot)
	if done {
		m.keep(res.Err)
	}
	return done, res
}

type messageCaller struct {
	c action.Caller
	r *messageRunner
}

func (m messageCaller) Call(ctx context.Context) action.Result {
	res := m.c.Call(ctx)
	if res.Err != nil {
		m.r.m.add(m.r.scenario, m.r.action, res.Err)
	}
	return res
}

// secretPatterns find credentials however a message spells them: a
// password= keyword, the password of a URL.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`),
	regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`),
}

// redact takes secrets out of a message: the configured passwords
// wherever they appear, and anything spelled like one.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	s = secretPatterns[0].ReplaceAllString(s, "${1}[redacted]")
	return secretPatterns[1].ReplaceAllString(s, "${1}[redacted]@")
}

// secretsOf lists the passwords of the configured targets.
func secretsOf(cfg *config.Config) []string {
	var out []string
	for _, t := range cfg.Targets {
		if t.DSN != "" {
			if pc, err := pgconn.ParseConfig(t.DSN); err == nil && pc.Password != "" {
				out = append(out, pc.Password)
			}
		}
		if t.SASL != nil && t.SASL.Password != "" {
			out = append(out, t.SASL.Password)
		}
	}
	// Longest first, so that a password containing another is redacted whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
