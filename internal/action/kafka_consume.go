package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/target"
)

func init() { Kinds.Register("kafka_consume", kafkaConsumeKind{}) }

// e2eHistMax is the longest end-to-end latency recorded exactly, in µs
// (an hour); longer ones count as an hour.
const e2eHistMax = int64(time.Hour / time.Microsecond)

// KafkaConsumeSpec is the settings of a `kafka_consume` action: one
// consumer that reads a topic. Each call is one poll: it returns as soon as
// at least one record arrived, or after PollTimeout with none (not an
// error). For every record pbenchd produced, the time from its send (the
// pbenchd-sent-ns header) to its arrival goes to
// pbenchd_kafka_e2e_latency_seconds, and its producer and sequence number
// are checked for duplicates and, when the action stops, for gaps
// (pbenchd_kafka_duplicate_total, pbenchd_kafka_missing_total). Records
// without pbenchd's headers are counted in pbenchd_kafka_foreign_total and
// skipped.
//
// The consumer is one client: calls from several workers take turns, so
// a closed loop of concurrency 1 is the natural loop.
type KafkaConsumeSpec struct {
	// Topic is read.
	Topic string `koanf:"topic"`
	// Group, if set, consumes as that consumer group (committing
	// offsets); empty reads the partitions directly.
	Group string `koanf:"group"`
	// Partitions, without a group, reads only these partitions; empty
	// reads all that exist when the action starts.
	Partitions []int32 `koanf:"partitions"`
	// Start is where reading begins: end (default: the partitions' ends
	// when the action is built, just before the phase starts, so a phase
	// sees exactly its own records) or beginning. A group that has
	// committed offsets on the topic resumes from them instead.
	Start string `koanf:"start"`
	// PollTimeout bounds a call that finds no record; default 1s.
	PollTimeout config.Duration `koanf:"poll_timeout"`
	// MaxRecords bounds the records one call takes; default 10000.
	MaxRecords int `koanf:"max_records"`
	// Drain is how long the action may keep reading when it stops, so
	// records sent at the very end of the phase are counted rather than
	// reported missing; it stops earlier once a second passes with no
	// record. Default 10s; 0s disables draining.
	Drain *config.Duration `koanf:"drain"`
}

const (
	defaultPollTimeout = time.Second
	defaultMaxRecords  = 10000
	defaultDrain       = 10 * time.Second
	drainIdle          = time.Second
)

type kafkaConsumeKind struct{}

func (kafkaConsumeKind) decode(raw any, path string) (*KafkaConsumeSpec, error) {
	var s KafkaConsumeSpec
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
	if s.Group != "" && len(s.Partitions) > 0 {
		bad("partitions", "a group assigns partitions itself: set group or partitions, not both")
	}
	for i, p := range s.Partitions {
		if p < 0 {
			bad(fmt.Sprintf("partitions[%d]", i), "%d must not be negative", p)
		}
	}
	if s.Start == "" {
		s.Start = "end"
	}
	if s.Start != "end" && s.Start != "beginning" {
		bad("start", "%q is not one of end, beginning", s.Start)
	}
	if s.MaxRecords < 0 {
		bad("max_records", "%d must not be negative", s.MaxRecords)
	}
	return &s, errors.Join(errs...)
}

func (k kafkaConsumeKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "kafka_consume", "kafka", raw, path, t)
}

func (kafkaConsumeKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*KafkaConsumeSpec)
	kt, err := env.Targets.Kafka(env.Target, env.Log)
	if err != nil {
		return nil, err
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := append([]kgo.Opt{kgo.FetchMaxWait(500 * time.Millisecond)}, consumeStart(ctx, kt, s, log)...)
	cl, err := kt.Client(opts...)
	if err != nil {
		return nil, err
	}
	// Connect to the brokers before the phase, as producers do; the
	// group is joined at the first poll.
	warmKafka(ctx, env, cl)
	m := env.Metrics
	if m == nil {
		m = metrics.New(prometheus.NewRegistry())
	}
	r := &kafkaConsumeRunner{
		k: kt, cl: cl, log: log,
		poll:      s.PollTimeout.D,
		max:       s.MaxRecords,
		drain:     defaultDrain,
		e2e:       m.KafkaE2E.WithLabelValues(env.Scenario, env.Action),
		missing:   m.KafkaMissing.WithLabelValues(env.Scenario, env.Action),
		duplicate: m.KafkaDuplicate.WithLabelValues(env.Scenario, env.Action),
		foreign:   m.KafkaForeign.WithLabelValues(env.Scenario, env.Action),
		seen:      map[string]*seqSet{},
		e2eHist:   hdrhistogram.New(1, e2eHistMax, 3),
	}
	if r.poll <= 0 {
		r.poll = defaultPollTimeout
	}
	if r.max <= 0 {
		r.max = defaultMaxRecords
	}
	if s.Drain != nil {
		r.drain = s.Drain.D
	}
	// Export the counters at zero, so rate() and alerts see them at once.
	r.missing.Add(0)
	r.duplicate.Add(0)
	r.foreign.Add(0)
	return r, nil
}

// consumeStart returns the options that say what to read and from where.
// "end" is the partitions' ends as of now (before the phase starts), looked
// up here so that no record sent in the phase is skipped, however late
// the consumer gets round to it: a group that has committed nothing on the
// topic is given them as commits; direct reading starts at them. If they
// cannot be looked up (brokers down), reading starts at the first record
// stamped after now, which franz-go resolves with a small race at an empty
// partition's end.
func consumeStart(ctx context.Context, kt *target.Kafka, s *KafkaConsumeSpec, log *slog.Logger) []kgo.Opt {
	reset := kgo.NewOffset().AfterMilli(time.Now().UnixMilli())
	var ends map[int32]int64
	if s.Start == "beginning" {
		reset = kgo.NewOffset().AtStart()
	} else {
		var err error
		if ends, err = kt.EndOffsets(ctx, s.Topic); err != nil {
			log.Warn("cannot look up where the topic ends; reading from records stamped after now", "topic", s.Topic, "err", err)
		}
	}
	opts := []kgo.Opt{kgo.ConsumeResetOffset(reset)}
	if s.Group != "" {
		if ends != nil {
			if _, err := kt.StartGroupAt(ctx, s.Group, s.Topic, ends); err != nil {
				log.Warn("cannot set the group's start offsets; it starts from records stamped after now", "group", s.Group, "err", err)
			}
		}
		return append(opts, kgo.ConsumerGroup(s.Group), kgo.ConsumeTopics(s.Topic))
	}
	parts := s.Partitions
	if len(parts) == 0 {
		if ends == nil {
			return append(opts, kgo.ConsumeTopics(s.Topic))
		}
		for p := range ends {
			parts = append(parts, p)
		}
	}
	at := map[int32]kgo.Offset{}
	for _, p := range parts {
		at[p] = reset
		if end, ok := ends[p]; ok {
			at[p] = kgo.NewOffset().At(end)
		}
	}
	return append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.Topic: at}))
}

type kafkaConsumeRunner struct {
	k     *target.Kafka
	cl    *kgo.Client
	log   *slog.Logger
	poll  time.Duration
	max   int
	drain time.Duration

	e2e                         prometheus.Observer
	missing, duplicate, foreign prometheus.Counter

	mu     sync.Mutex // one poll at a time; guards seen, closed and the counts below
	seen   map[string]*seqSet
	closed bool

	// The phase's own figures, for the iteration's results: end-to-end
	// latency exact to 3 significant digits (µs to an hour), and counts.
	e2eHist                           *hdrhistogram.Histogram
	records, nMissing, nDup, nForeign int64
}

// Figures implements Figurer: the phase's end-to-end latency and the
// counts of records consumed, missing, duplicate and foreign. Missing is
// known once the runner is closed.
func (r *kafkaConsumeRunner) Figures() []Figure {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []Figure{{Name: "records", Value: float64(r.records)}}
	if r.e2eHist.TotalCount() > 0 {
		for _, q := range []struct {
			name string
			p    float64
		}{{"e2e_p50", 50}, {"e2e_p99", 99}} {
			out = append(out, Figure{Name: q.name, Value: float64(r.e2eHist.ValueAtQuantile(q.p)) / 1e6, Seconds: true})
		}
		out = append(out, Figure{Name: "e2e_max", Value: float64(r.e2eHist.Max()) / 1e6, Seconds: true})
	}
	return append(out,
		Figure{Name: "missing", Value: float64(r.nMissing)},
		Figure{Name: "duplicate", Value: float64(r.nDup)},
		Figure{Name: "foreign", Value: float64(r.nForeign)})
}

func (r *kafkaConsumeRunner) Call(ctx context.Context) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	_, err := r.pollOnce(ctx, r.poll)
	return Result{Start: start, Err: err}
}

// pollOnce waits up to d for records and accounts for them. A poll that
// ends with no record because d passed is not an error.
func (r *kafkaConsumeRunner) pollOnce(ctx context.Context, d time.Duration) (int, error) {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	fs := r.cl.PollRecords(pctx, r.max)
	arrived := time.Now()
	var err error
	fs.EachError(func(topic string, p int32, e error) {
		if errors.Is(e, context.DeadlineExceeded) && ctx.Err() == nil {
			return // our poll timeout: nothing arrived
		}
		if err == nil {
			err = e
		}
	})
	n := 0
	fs.EachRecord(func(rec *kgo.Record) {
		n++
		producer, seq, sent, ok := stampOf(rec)
		if !ok {
			r.foreign.Inc()
			r.nForeign++
			return
		}
		r.records++
		lat := max(arrived.Sub(sent), 0)
		r.e2e.Observe(lat.Seconds())
		_ = r.e2eHist.RecordValue(min(max(lat.Microseconds(), 1), e2eHistMax))
		s := r.seen[producer]
		if s == nil {
			s = newSeqSet()
			r.seen[producer] = s
		}
		if !s.add(seq) {
			r.duplicate.Inc()
			r.nDup++
		}
	})
	if n == 0 && err == nil {
		// kgo retries unreachable brokers quietly: a poll that found
		// nothing while the last connection attempt failed is a failure
		// to reach the target, not a quiet topic.
		if derr := r.k.LastDialError(); derr != nil {
			err = fmt.Errorf("no record, and no broker reachable: %w", derr)
		}
	}
	if n > 0 {
		r.k.Observe(nil)
	} else {
		r.k.Observe(err)
	}
	return n, err
}

// Close drains what is left (records sent at the end of the phase), counts
// the sequence numbers never seen, and closes the consumer.
func (r *kafkaConsumeRunner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if r.drain > 0 {
		deadline := time.Now().Add(r.drain)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			n, err := r.pollOnce(context.Background(), min(drainIdle, left))
			if n == 0 || err != nil {
				break
			}
		}
	}
	var missing uint64
	for _, s := range r.seen {
		missing += s.missing()
	}
	r.missing.Add(float64(missing))
	r.nMissing = int64(missing)
	if missing > 0 && r.log != nil {
		r.log.Warn("records never consumed", "missing", missing, "producers", len(r.seen))
	}
	target.CloseClient(r.cl)
}

// seqSet is the set of sequence numbers seen from one producer: a bitmap in
// 64-bit words, sparse so that a wild number costs one word.
type seqSet struct {
	words    map[uint64]uint64
	min, max uint64
	n        uint64
}

func newSeqSet() *seqSet { return &seqSet{words: map[uint64]uint64{}} }

// add records seq and reports whether it is new.
func (s *seqSet) add(seq uint64) bool {
	w, bit := seq/64, uint64(1)<<(seq%64)
	if s.words[w]&bit != 0 {
		return false
	}
	s.words[w] |= bit
	if s.n == 0 || seq < s.min {
		s.min = seq
	}
	if s.n == 0 || seq > s.max {
		s.max = seq
	}
	s.n++
	return true
}

// missing counts the numbers between the lowest and the highest seen that
// were not seen. Numbers before the lowest were sent before the consumer
// started (not its to see), numbers after the highest are not known.
func (s *seqSet) missing() uint64 {
	if s.n == 0 {
		return 0
	}
	return s.max - s.min + 1 - s.n
}
