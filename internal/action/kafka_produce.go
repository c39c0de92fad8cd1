package action

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

func init() { Kinds.Register("kafka_produce", kafkaProduceKind{}) }

// Headers pbenchd puts on every record it produces, with decimal ASCII
// values so that any tool shows them (kcat -f '%h'). A consumer uses them
// for end-to-end latency and to find lost and duplicated records.
const (
	// HeaderSeq is the record's sequence number: 1, 2, … per producer.
	HeaderSeq = "pbenchd-seq"
	// HeaderSentNs is when the record was sent, in Unix nanoseconds.
	HeaderSentNs = "pbenchd-sent-ns"
	// HeaderProducer identifies the producer (one per action per phase),
	// so that sequence numbers of different producers are told apart.
	HeaderProducer = "pbenchd-producer"
)

// KafkaProduceSpec is the settings of a `kafka_produce` action: each call
// produces Records records and returns when the brokers acknowledged all
// of them (as the target's producer acks setting asks).
//
//	kafka_produce:
//	  topic: events
//	  key: "user-$1"
//	  fields: { user: { kind: uniform_int, min: 1, max: 1000 }, note: { kind: string, length: 20 } }
//	  args: [{ kind: uniform_int, min: 1, max: 1000 }]
type KafkaProduceSpec struct {
	// Topic receives the records.
	Topic string `koanf:"topic"`
	// Key is a text template: $1, $2… are replaced by the args of the
	// record. Empty: records have no key (the producer spreads them over
	// the partitions).
	Key string `koanf:"key"`
	// Value is a text template like Key. Mutually exclusive with Fields.
	Value string `koanf:"value"`
	// Fields make the value a JSON object, one member per field, each
	// from a generator of the kinds that SQL args use.
	Fields map[string]ArgSpec `koanf:"fields"`
	// Args generate the $n of Key and Value, once per record (so a key
	// and a value that both use $1 agree).
	Args []ArgSpec `koanf:"args"`
	// Records per call; default 1. A call is measured until every one of
	// its records is acknowledged.
	Records int `koanf:"records"`
	// Timeout bounds each call; default 10s. A record not acknowledged
	// by then fails the call (class connect when no broker could be
	// reached, else timeout), and the call returns then even if the
	// client would wait longer (its client is then replaced).
	Timeout config.Duration `koanf:"timeout"`
}

const (
	defaultKafkaTimeout = 10 * time.Second
	maxRecordsPerCall   = 1_000_000
	// minDeliveryTimeout is the least record delivery timeout franz-go
	// takes; shorter call timeouts end calls by their context.
	minDeliveryTimeout = time.Second
)

type kafkaProduceKind struct{}

func (kafkaProduceKind) decode(raw any, path string) (*KafkaProduceSpec, error) {
	var s KafkaProduceSpec
	if err := config.Decode(raw, path, &s); err != nil {
		return nil, err
	}
	var errs []error
	if s.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: missing", path))
	}
	if s.Records < 0 || s.Records > maxRecordsPerCall {
		errs = append(errs, fmt.Errorf("%s.records: %d is not between 1 and %d", path, s.Records, maxRecordsPerCall))
	}
	if s.Records == 0 {
		s.Records = 1
	}
	if _, e := newRecordBuilder(s.Key, s.Value, s.Fields, s.Args, path); e != nil {
		errs = append(errs, e...)
	}
	return &s, errors.Join(errs...)
}

func (k kafkaProduceKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "kafka_produce", "kafka", raw, path, t)
}

func (kafkaProduceKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*KafkaProduceSpec)
	kt, err := env.Targets.Kafka(env.Target, env.Log)
	if err != nil {
		return nil, err
	}
	b, _ := newRecordBuilder(s.Key, s.Value, s.Fields, s.Args, "")
	timeout := s.Timeout.D
	if timeout <= 0 {
		timeout = defaultKafkaTimeout
	}
	bp, err := newBoundedProducer(kt, env.Log, func() (*kgo.Client, error) {
		return kt.Producer(kgo.RecordDeliveryTimeout(max(timeout, minDeliveryTimeout)))
	})
	if err != nil {
		return nil, err
	}
	warmKafka(ctx, env, bp.cl)
	return &kafkaProduceRunner{
		k: kt, p: bp, topic: s.Topic, records: s.Records, timeout: timeout,
		b: b, st: newStamper(), rngs: newRandPool(),
	}, nil
}

type kafkaProduceRunner struct {
	k       *target.Kafka
	p       *boundedProducer
	topic   string
	records int
	timeout time.Duration
	b       *recordBuilder
	st      *stamper
	rngs    *sync.Pool
}

func (r *kafkaProduceRunner) Call(ctx context.Context) Result {
	rng := r.rngs.Get().(*mrand.Rand)
	recs := make([]*kgo.Record, r.records)
	for i := range recs {
		recs[i] = r.b.record(rng, r.topic)
	}
	r.rngs.Put(rng)
	sent := time.Now()
	for _, rec := range recs {
		r.st.stamp(rec, sent)
	}
	// The wait is bounded by the timeout whatever the client does (see
	// boundedProducer); the client may fail records earlier, at its
	// delivery timeout, with the last error it met.
	err := r.k.Explain(r.p.produce(ctx, r.timeout, recs...))
	r.k.Observe(err)
	return Result{Start: sent, Err: err}
}

func (r *kafkaProduceRunner) Close() { r.p.close() }

// stamper numbers the records of one producer and marks them with
// pbenchd's headers.
type stamper struct {
	id  string
	seq atomic.Uint64
}

func newStamper() *stamper {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &stamper{id: hex.EncodeToString(b[:])}
}

// stamp gives the record the next sequence number and the send time, in
// its headers and as its timestamp.
func (s *stamper) stamp(rec *kgo.Record, sent time.Time) uint64 {
	n := s.seq.Add(1)
	rec.Timestamp = sent
	rec.Headers = append(rec.Headers,
		kgo.RecordHeader{Key: HeaderSeq, Value: strconv.AppendUint(nil, n, 10)},
		kgo.RecordHeader{Key: HeaderSentNs, Value: strconv.AppendInt(nil, sent.UnixNano(), 10)},
		kgo.RecordHeader{Key: HeaderProducer, Value: []byte(s.id)},
	)
	return n
}

// stampOf reads pbenchd's headers back; ok is false for a record that
// lacks the sequence number or the send time (not pbenchd's).
func stampOf(rec *kgo.Record) (producer string, seq uint64, sent time.Time, ok bool) {
	var haveSeq, haveSent bool
	for _, h := range rec.Headers {
		switch h.Key {
		case HeaderSeq:
			n, err := strconv.ParseUint(string(h.Value), 10, 64)
			seq, haveSeq = n, err == nil
		case HeaderSentNs:
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			sent, haveSent = time.Unix(0, n), err == nil
		case HeaderProducer:
			producer = string(h.Value)
		}
	}
	return producer, seq, sent, haveSeq && haveSent
}

// recordBuilder makes records from key and value templates and field
// generators.
type recordBuilder struct {
	key, value    textTemplate
	hasKey        bool
	fieldNames    []string
	fields        []func(*mrand.Rand) any
	args          func(*mrand.Rand) []any
	jsonValue     bool
	templateValue bool
}

func newRecordBuilder(key, value string, fields map[string]ArgSpec, args []ArgSpec, path string) (*recordBuilder, []error) {
	var errs []error
	b := &recordBuilder{key: parseTemplate(key), value: parseTemplate(value), hasKey: key != ""}
	b.templateValue = value != ""
	b.jsonValue = len(fields) > 0
	if b.templateValue && b.jsonValue {
		errs = append(errs, fmt.Errorf("%s: has both value and fields: a value is a template or a JSON object of fields, not both", path))
	}
	gen, e := buildArgs(args, path+".args")
	errs = append(errs, e...)
	b.args = gen
	if need := max(b.key.maxRef(), b.value.maxRef()); need > len(args) {
		errs = append(errs, fmt.Errorf("%s.args: the key or value uses $%d but only %d args are given", path, need, len(args)))
	}
	for _, name := range sortedKeys(fields) {
		g, e := buildArg(fields[name], path+".fields."+name)
		errs = append(errs, e...)
		b.fieldNames = append(b.fieldNames, name)
		b.fields = append(b.fields, g)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return b, nil
}

func (b *recordBuilder) record(rng *mrand.Rand, topic string) *kgo.Record {
	rec := &kgo.Record{Topic: topic}
	var args []any
	if b.args != nil {
		args = b.args(rng)
	}
	if b.hasKey {
		rec.Key = b.key.render(nil, args)
	}
	switch {
	case b.jsonValue:
		obj := make(map[string]any, len(b.fields))
		for i, g := range b.fields {
			obj[b.fieldNames[i]] = g(rng)
		}
		// Generators give numbers, strings, times and YAML scalars,
		// all of which encode.
		rec.Value, _ = json.Marshal(obj)
	case b.templateValue:
		rec.Value = b.value.render(nil, args)
	}
	return rec
}

// textTemplate is text with $n placeholders (1-based), parsed once.
type textTemplate struct {
	lits []string // len(refs)+1 pieces of literal text around the refs
	refs []int    // 0-based argument indexes
}

func parseTemplate(s string) textTemplate {
	var t textTemplate
	last := 0
	for _, m := range placeholderRe.FindAllStringSubmatchIndex(s, -1) {
		n, err := strconv.Atoi(s[m[2]:m[3]])
		if err != nil || n < 1 {
			continue // $0 or an absurd number: literal text
		}
		t.lits = append(t.lits, s[last:m[0]])
		t.refs = append(t.refs, n-1)
		last = m[1]
	}
	t.lits = append(t.lits, s[last:])
	return t
}

func (t textTemplate) maxRef() int {
	n := 0
	for _, r := range t.refs {
		n = max(n, r+1)
	}
	return n
}

func (t textTemplate) render(dst []byte, args []any) []byte {
	for i, r := range t.refs {
		dst = append(dst, t.lits[i]...)
		dst = appendArg(dst, args[r])
	}
	return append(dst, t.lits[len(t.lits)-1]...)
}

func appendArg(dst []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return append(dst, v...)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case time.Time:
		return v.AppendFormat(dst, time.RFC3339Nano)
	}
	return fmt.Append(dst, v)
}

// buildArg makes one generator, with errors named by path (args.go's
// buildArgs names list elements).
func buildArg(a ArgSpec, path string) (func(*mrand.Rand) any, []error) {
	mk, ok := argKinds[a.Kind]
	if !ok {
		return nil, []error{fmt.Errorf("%s.kind: %q is not one of %s", path, a.Kind, strings.Join(argKindNames(), ", "))}
	}
	return mk(a, path)
}

func newRandPool() *sync.Pool {
	return &sync.Pool{New: func() any { return mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64())) }}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
