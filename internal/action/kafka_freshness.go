package action

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/target"
)

func init() { Kinds.Register("kafka_freshness", kafkaFreshnessKind{}) }

// KafkaFreshnessSpec is the settings of a `kafka_freshness` action: each
// call produces one marker record to a topic, then polls a query on a SQL
// target until the marker shows up there. The time from the send to the
// first poll that sees it goes to pbenchd_freshness_lag_seconds{view}; the
// call itself is measured the same way. A marker not seen within Timeout
// fails the call (class timeout).
//
//	kafka_freshness:
//	  topic: events
//	  value: '{"id": "$1"}'
//	  sql_target: mz
//	  query: SELECT 1 FROM events_view WHERE id = $1
//	  view: events_view
type KafkaFreshnessSpec struct {
	// Topic receives the marker records.
	Topic string `koanf:"topic"`
	// Key and Value are templates of the marker record, in which $1 is
	// the marker (a unique text such as pbenchd-3f2a9c1e0b7d4a55-17) and
	// $2 the send time in Unix nanoseconds. Default key: the marker;
	// default value: {"marker": "$1", "sent_ns": $2}.
	Key   string `koanf:"key"`
	Value string `koanf:"value"`
	// SQLTarget names the postgres target to poll.
	SQLTarget string `koanf:"sql_target"`
	// Query is polled with the marker as $1 until it returns a row.
	Query string `koanf:"query"`
	// View labels the lag histogram; default: the action's name.
	View string `koanf:"view"`
	// PollInterval is the pause between two polls; default 10ms. It is
	// the resolution of the lag.
	PollInterval config.Duration `koanf:"poll_interval"`
	// Timeout bounds each call; default 60s.
	Timeout config.Duration `koanf:"timeout"`
}

const (
	defaultFreshnessValue    = `{"marker": "$1", "sent_ns": $2}`
	defaultFreshnessPoll     = 10 * time.Millisecond
	defaultFreshnessTimeout  = 60 * time.Second
	freshnessTemplateMaxArgs = 2
)

type kafkaFreshnessKind struct{}

func (kafkaFreshnessKind) decode(raw any, path string) (*KafkaFreshnessSpec, error) {
	var s KafkaFreshnessSpec
	if err := config.Decode(raw, path, &s); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	if s.Topic == "" {
		bad("topic", "missing")
	}
	if s.SQLTarget == "" {
		bad("sql_target", "missing: the postgres target to poll for the marker")
	}
	switch n := placeholders(s.Query); {
	case s.Query == "":
		bad("query", "missing: a query that returns a row once the marker ($1) arrived")
	case n != 1:
		bad("query", "uses $%d: the query takes exactly one parameter, $1, the marker", n)
	}
	for _, f := range []struct{ key, tmpl string }{{"key", s.Key}, {"value", s.Value}} {
		if n := parseTemplate(f.tmpl).maxRef(); n > freshnessTemplateMaxArgs {
			bad(f.key, "uses $%d: only $1 (the marker) and $2 (the send time) exist", n)
		}
	}
	return &s, errors.Join(errs...)
}

func (k kafkaFreshnessKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "kafka_freshness", "kafka", raw, path, t)
}

func (kafkaFreshnessKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*KafkaFreshnessSpec)
	kt, err := env.Targets.Kafka(env.Target, env.Log)
	if err != nil {
		return nil, err
	}
	pg, err := env.Targets.Postgres(s.SQLTarget)
	if err != nil {
		return nil, fmt.Errorf("sql_target: %w", err)
	}
	r := &kafkaFreshnessRunner{
		k: kt, pg: pg, topic: s.Topic, query: s.Query,
		key: parseTemplate("$1"), value: parseTemplate(defaultFreshnessValue),
		interval: s.PollInterval.D, timeout: s.Timeout.D,
		st: newStamper(),
	}
	if s.Key != "" {
		r.key = parseTemplate(s.Key)
	}
	if s.Value != "" {
		r.value = parseTemplate(s.Value)
	}
	if r.interval <= 0 {
		r.interval = defaultFreshnessPoll
	}
	if r.timeout <= 0 {
		r.timeout = defaultFreshnessTimeout
	}
	view := s.View
	if view == "" {
		view = env.Action
	}
	m := env.Metrics
	if m == nil {
		m = metrics.New(prometheus.NewRegistry())
	}
	r.lag = m.FreshnessLag.WithLabelValues(env.Scenario, view)
	if r.p, err = newBoundedProducer(kt, env.Log, func() (*kgo.Client, error) {
		return kt.Producer(kgo.RecordDeliveryTimeout(max(r.timeout, minDeliveryTimeout)))
	}); err != nil {
		return nil, err
	}
	warmKafka(ctx, env, r.p.cl)
	// The pool's connections are made outside the measurement (a poll
	// that finds none free waits, and that wait is part of the lag).
	if r.pool, err = openPool(ctx, env, pg, max(env.Slots, 1), nil); err != nil {
		r.p.close()
		return nil, fmt.Errorf("sql_target %s: %w", s.SQLTarget, err)
	}
	return r, nil
}

type kafkaFreshnessRunner struct {
	k          *target.Kafka
	pg         *target.Postgres
	p          *boundedProducer
	pool       *pgxpool.Pool
	topic      string
	query      string
	key, value textTemplate
	interval   time.Duration
	timeout    time.Duration
	st         *stamper
	lag        prometheus.Observer
}

func (r *kafkaFreshnessRunner) Call(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	rec := &kgo.Record{Topic: r.topic}
	sent := time.Now()
	seq := r.st.stamp(rec, sent)
	marker := "pbenchd-" + r.st.id + "-" + strconv.FormatUint(seq, 10)
	args := []any{marker, sent.UnixNano()}
	rec.Key = r.key.render(nil, args)
	rec.Value = r.value.render(nil, args)
	// The marker's produce gets what is left of the call's timeout,
	// bounded whatever the client does (see boundedProducer).
	left := time.Until(sent.Add(r.timeout))
	err := r.k.Explain(r.p.produce(ctx, left, rec))
	r.k.Observe(err)
	if err != nil {
		return Result{Start: sent, Err: fmt.Errorf("produce marker: %w", err)}
	}
	for {
		found, err := r.seen(ctx, marker)
		r.pg.Observe(err)
		if err != nil {
			return Result{Start: sent, Err: fmt.Errorf("poll for marker: %w", err)}
		}
		if found {
			r.lag.Observe(time.Since(sent).Seconds())
			return Result{Start: sent}
		}
		t := time.NewTimer(r.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{Start: sent, Err: fmt.Errorf("marker not seen within %s: %w", r.timeout, ctx.Err())}
		case <-t.C:
		}
	}
}

// seen runs the query once and reports whether it returned a row.
func (r *kafkaFreshnessRunner) seen(ctx context.Context, marker string) (bool, error) {
	rows, err := r.pool.Query(ctx, r.query, marker)
	if err != nil {
		return false, err
	}
	found := rows.Next()
	rows.Close()
	return found, rows.Err()
}

func (r *kafkaFreshnessRunner) Close() {
	r.p.close()
	r.pool.Close()
}
