package action

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// kafkaEnv is a kfake cluster and the targets and metrics that runners of
// the Kafka kinds are built with: target "k" is the cluster, "pg" the test
// PostgreSQL.
type kafkaEnv struct {
	c    *kfake.Cluster
	m    *metrics.Metrics
	set  *target.Set
	addr string
}

func newKafkaEnv(t *testing.T, opts ...kfake.Opt) *kafkaEnv {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return newKafkaEnvAt(t, c, c.ListenAddrs()[0])
}

func newKafkaEnvAt(t *testing.T, c *kfake.Cluster, addr string) *kafkaEnv {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry())
	set := target.NewSet(map[string]config.Target{
		"k":  {Kind: "kafka", Brokers: []string{addr}, ConnectTimeout: config.Dur(time.Second)},
		"pg": {Kind: "postgres", DSN: pgtest.DSN(), ConnectTimeout: config.Dur(2 * time.Second)},
	}, func(name string) prometheus.Gauge { return m.TargetUp.WithLabelValues(name) })
	return &kafkaEnv{c: c, m: m, set: set, addr: addr}
}

// build decodes the settings as validation would and builds a runner of the
// kind, closed when the test ends (closing twice is allowed).
func (e *kafkaEnv) build(t *testing.T, kind, action string, raw map[string]any, slots int) Runner {
	t.Helper()
	k, ok := Kinds.Lookup(kind)
	if !ok {
		t.Fatalf("kind %s not registered", kind)
	}
	spec, err := k.Decode(raw, kind, config.Target{Kind: "kafka"})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	r, err := k.Build(context.Background(), spec, Env{
		Scenario: "test", Action: action, Target: "k", Targets: e.set,
		Slots: slots, Log: quiet, Metrics: e.m,
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// client is a plain franz-go client of the cluster, for what the test
// itself writes and reads.
func (e *kafkaEnv) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func histogram(t *testing.T, o prometheus.Observer) (count uint64, sum float64) {
	t.Helper()
	var d dto.Metric
	if err := o.(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
}

func (e *kafkaEnv) counts(action string) (missing, duplicate, foreign float64) {
	return testutil.ToFloat64(e.m.KafkaMissing.WithLabelValues("test", action)),
		testutil.ToFloat64(e.m.KafkaDuplicate.WithLabelValues("test", action)),
		testutil.ToFloat64(e.m.KafkaForeign.WithLabelValues("test", action))
}

// consumeUntil polls the consumer until it has seen n of pbenchd's records
// (or 20 s pass), then closes it, which drains what is left.
func (e *kafkaEnv) consumeUntil(t *testing.T, cons Runner, action string, n uint64) {
	t.Helper()
	e2e := e.m.KafkaE2E.WithLabelValues("test", action)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if got, _ := histogram(t, e2e); got >= n {
			break
		}
		if res := cons.Call(context.Background()); res.Err != nil {
			t.Fatalf("consume: %v", res.Err)
		}
	}
	cons.Close()
}

// TestKafkaProduceConsume produces from four workers at once to three
// partitions while a consumer reads, and checks the exact counts: every
// record arrives once, with its end-to-end latency recorded; records of
// another tool are counted as foreign and skipped.
func TestKafkaProduceConsume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		consume map[string]any
	}{
		{"every partition", map[string]any{"topic": "events"}},
		{"listed partitions", map[string]any{"topic": "events", "partitions": []any{0, 1, 2}}},
		{"consumer group", map[string]any{"topic": "events", "group": "pbenchd_test"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testProduceConsume(t, tc.consume) })
	}
}

func testProduceConsume(t *testing.T, consume map[string]any) {
	e := newKafkaEnv(t, kfake.SeedTopics(3, "events"))
	ctx := context.Background()
	cons := e.build(t, "kafka_consume", "consume", consume, 1)
	prod := e.build(t, "kafka_produce", "produce", map[string]any{
		"topic": "events", "key": "user-$1",
		"args":   []any{map[string]any{"kind": "uniform_int", "min": 1, "max": 50}},
		"fields": map[string]any{"n": map[string]any{"kind": "sequence", "start": 1}},
	}, 4)

	const workers, perWorker = 4, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if res := prod.Call(ctx); res.Err != nil {
					t.Errorf("produce: %v", res.Err)
					return
				}
			}
		})
	}
	foreign := e.client(t)
	if err := foreign.ProduceSync(ctx,
		&kgo.Record{Topic: "events", Value: []byte("not pbenchd's")},
		&kgo.Record{Topic: "events", Value: []byte("half pbenchd's"), Headers: []kgo.RecordHeader{{Key: HeaderSeq, Value: []byte("1")}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	const n = workers * perWorker
	e.consumeUntil(t, cons, "consume", n)

	count, sum := histogram(t, e.m.KafkaE2E.WithLabelValues("test", "consume"))
	if count != n {
		t.Errorf("end-to-end latencies recorded = %d, want exactly %d", count, n)
	}
	if sum <= 0 {
		t.Errorf("sum of end-to-end latencies = %v, want > 0", sum)
	}
	missing, dup, foreignN := e.counts("consume")
	if missing != 0 || dup != 0 || foreignN != 2 {
		t.Errorf("missing = %v, duplicate = %v, foreign = %v; want 0, 0, 2", missing, dup, foreignN)
	}
	if got := testutil.ToFloat64(e.m.TargetUp.WithLabelValues("k")); got != 1 {
		t.Errorf("target_up = %v, want 1", got)
	}
}

// TestKafkaConsumeGapsAndDuplicates writes stamped records by hand, as a
// producer that lost one record and repeated others would, and checks what
// the consumer counts.
func TestKafkaConsumeGapsAndDuplicates(t *testing.T) {
	e := newKafkaEnv(t, kfake.SeedTopics(2, "t"))
	ctx := context.Background()
	cons := e.build(t, "kafka_consume", "consume", map[string]any{"topic": "t", "start": "beginning", "poll_timeout": "200ms"}, 1)
	var recs []*kgo.Record
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	stamped := func(producer string, seq string) *kgo.Record {
		return &kgo.Record{Topic: "t", Headers: []kgo.RecordHeader{
			{Key: HeaderProducer, Value: []byte(producer)}, {Key: HeaderSeq, Value: []byte(seq)}, {Key: HeaderSentNs, Value: []byte(now)},
		}}
	}
	// Producer a: 1 2 2 4 5 5 5 → 3 duplicates, 1 missing (3).
	for _, s := range []string{"1", "2", "2", "4", "5", "5", "5"} {
		recs = append(recs, stamped("a", s))
	}
	// Producer b starts at 10 (before that: not the consumer's to see),
	// with 12 lost: 1 missing; its numbers do not clash with a's.
	for _, s := range []string{"10", "11", "13", "1"} {
		recs = append(recs, stamped("b", s))
	}
	recs = append(recs, stamped("b", "x")) // unreadable: foreign
	if err := e.client(t).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.consumeUntil(t, cons, "consume", 11)
	missing, dup, foreign := e.counts("consume")
	// b: seen 1, 10, 11, 13 → lowest 1, highest 13: 9 missing (2–9, 12).
	if missing != 1+9 || dup != 3 || foreign != 1 {
		t.Errorf("missing = %v, duplicate = %v, foreign = %v; want 10, 3, 1", missing, dup, foreign)
	}
}

// TestKafkaProduceReadByKcat checks with an independent client (kcat, on
// librdkafka) that the records pbenchd produced are all there, with keys
// from the template, JSON values from the fields and pbenchd's headers.
func TestKafkaProduceReadByKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (apt-get install kcat): it is the independent client of this test")
	}
	e := newKafkaEnv(t, kfake.SeedTopics(2, "kc"))
	prod := e.build(t, "kafka_produce", "produce", map[string]any{
		"topic": "kc", "key": "k-$1-$2", "records": 5,
		"args": []any{map[string]any{"kind": "sequence", "start": 100}, map[string]any{"kind": "choice", "values": []any{"x", "y"}}},
		"fields": map[string]any{
			"user": map[string]any{"kind": "uniform_int", "min": 1, "max": 9},
			"name": map[string]any{"kind": "string", "length": 6},
			"at":   map[string]any{"kind": "now"},
		},
	}, 1)
	before := time.Now()
	const calls, perCall = 10, 5
	for range calls {
		if res := prod.Call(context.Background()); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", e.addr, "-C", "-t", "kc", "-o", "beginning", "-e", "-q",
		"-f", "%h\t%k\t%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	var seqs []int
	producers := map[string]bool{}
	keyRe := regexp.MustCompile(`^k-[0-9]+-[xy]$`)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		hs, rest, _ := strings.Cut(sc.Text(), "\t")
		key, value, _ := strings.Cut(rest, "\t")
		h := map[string]string{}
		for kv := range strings.SplitSeq(hs, ",") {
			k, v, _ := strings.Cut(kv, "=")
			h[k] = v
		}
		seq, err := strconv.Atoi(h[HeaderSeq])
		if err != nil {
			t.Fatalf("record without a readable %s header: %q", HeaderSeq, sc.Text())
		}
		seqs = append(seqs, seq)
		producers[h[HeaderProducer]] = true
		sent, err := strconv.ParseInt(h[HeaderSentNs], 10, 64)
		if err != nil || time.Unix(0, sent).Before(before) || time.Unix(0, sent).After(time.Now()) {
			t.Errorf("%s = %q, not a time during the test", HeaderSentNs, h[HeaderSentNs])
		}
		if !keyRe.MatchString(key) {
			t.Errorf("key %q does not come from the template k-$1-$2", key)
		}
		var v struct {
			User int       `json:"user"`
			Name string    `json:"name"`
			At   time.Time `json:"at"`
		}
		if err := json.Unmarshal([]byte(value), &v); err != nil || v.User < 1 || v.User > 9 || len(v.Name) != 6 || v.At.IsZero() {
			t.Errorf("value %q is not the JSON of the fields (%v)", value, err)
		}
	}
	if len(seqs) != calls*perCall {
		t.Fatalf("kcat read %d records, want %d:\n%s", len(seqs), calls*perCall, out)
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("sequence numbers %v, want 1…%d once each", seqs, calls*perCall)
		}
	}
	if len(producers) != 1 {
		t.Errorf("producer ids %v, want one", producers)
	}
}

// TestKafkaProduceBrokerFault makes the broker refuse three produce
// requests with a non-retriable error code: those calls fail and are
// classified by the code, and the calls after them succeed.
func TestKafkaProduceBrokerFault(t *testing.T) {
	e := newKafkaEnv(t, kfake.SeedTopics(1, "f"))
	prod := e.build(t, "kafka_produce", "produce", map[string]any{"topic": "f", "value": "v", "timeout": "5s"}, 1)
	ctx := context.Background()
	if res := prod.Call(ctx); res.Err != nil { // metadata loaded, producer id set
		t.Fatal(res.Err)
	}
	const faults = 3
	var seen int
	e.c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.c.KeepControl()
		seen++
		if seen > faults {
			e.c.DropControl()
			return nil, nil, false
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	classes := map[string]int{}
	for range faults + 5 {
		res := prod.Call(ctx)
		classes[target.Classify(res.Err)]++
	}
	if classes["kafka_invalid_record"] != faults || classes[""] != 5 {
		t.Errorf("classes of 8 calls after %d faulted produce requests: %v; want %d kafka_invalid_record then 5 ok", faults, classes, faults)
	}
	if got := testutil.ToFloat64(e.m.TargetUp.WithLabelValues("k")); got != 1 {
		t.Errorf("target_up = %v, want 1: a broker that answers with an error is up", got)
	}
}

// TestKafkaUnreachableThenRecovers produces to a port nothing listens on:
// calls fail with class connect and target_up is 0, without a crash. Then a
// broker starts on that port and the same runner's calls succeed.
func TestKafkaUnreachableThenRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e := newKafkaEnvAt(t, nil, addr)
	prod := e.build(t, "kafka_produce", "produce", map[string]any{"topic": "r", "timeout": "1s"}, 2)
	ctx := context.Background()
	for range 2 {
		res := prod.Call(ctx)
		if got := target.Classify(res.Err); got != "connect" {
			t.Fatalf("call to a closed port: class %q (err %v), want connect", got, res.Err)
		}
	}
	cons := e.build(t, "kafka_consume", "consume", map[string]any{"topic": "r", "poll_timeout": "500ms", "drain": "0s"}, 1)
	if res := cons.Call(ctx); target.Classify(res.Err) != "connect" {
		t.Errorf("poll of a closed port: class %q (err %v), want connect", target.Classify(res.Err), res.Err)
	}
	cons.Close()
	if got := testutil.ToFloat64(e.m.TargetUp.WithLabelValues("k")); got != 0 {
		t.Errorf("target_up = %v, want 0", got)
	}

	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "r"))
	if err != nil {
		t.Fatalf("start a broker on the freed port %d: %v", port, err)
	}
	defer c.Close()
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if last = prod.Call(ctx).Err; last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("no successful call within 20s of the broker starting: %v", last)
	}
	if got := testutil.ToFloat64(e.m.TargetUp.WithLabelValues("k")); got != 1 {
		t.Errorf("target_up = %v after recovery, want 1", got)
	}
	prod.Close()
}

// TestKafkaFreshness runs kafka_freshness against the real PostgreSQL. The
// test plays the pipeline: it reads the topic and, 50 ms after a marker
// arrives, inserts it into the table the action polls.
func TestKafkaFreshness(t *testing.T) {
	e := newKafkaEnv(t, kfake.SeedTopics(1, "fresh"))
	conn := pgtest.Connect(t)
	tbl := pgtest.Name("pbenchd_fresh")
	pgtest.Exec(t, conn, "CREATE TABLE "+tbl+" (marker text PRIMARY KEY, sent_ns bigint)")
	t.Cleanup(func() { pgtest.Exec(t, conn, "DROP TABLE IF EXISTS "+tbl) })

	const delay = 50 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	pipe := e.client(t, kgo.ConsumeTopics("fresh"), kgo.FetchMaxWait(100*time.Millisecond))
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			pipe.PollRecords(ctx, 100).EachRecord(func(r *kgo.Record) {
				var v struct {
					Marker string `json:"marker"`
					SentNs int64  `json:"sent_ns"`
				}
				if err := json.Unmarshal(r.Value, &v); err != nil || v.Marker != string(r.Key) {
					t.Errorf("marker record key %q value %q: %v", r.Key, r.Value, err)
					return
				}
				time.Sleep(delay)
				if _, err := conn.Exec(ctx, "INSERT INTO "+tbl+" VALUES ($1, $2)", v.Marker, v.SentNs); err != nil && ctx.Err() == nil {
					t.Errorf("insert marker: %v", err)
				}
			})
		}
	})
	defer func() { stop(); wg.Wait() }()

	fresh := e.build(t, "kafka_freshness", "fresh", map[string]any{
		"topic": "fresh", "sql_target": "pg", "view": "fresh_table",
		"query": "SELECT 1 FROM " + tbl + " WHERE marker = $1", "poll_interval": "5ms", "timeout": "10s",
	}, 1)
	const calls = 3
	for range calls {
		if res := fresh.Call(context.Background()); res.Err != nil {
			t.Fatalf("freshness call: %v", res.Err)
		}
	}
	count, sum := histogram(t, e.m.FreshnessLag.WithLabelValues("test", "fresh_table"))
	if count != calls {
		t.Fatalf("freshness lags recorded = %d, want %d", count, calls)
	}
	if avg := time.Duration(sum / calls * 1e9); avg < delay || avg > 5*time.Second {
		t.Errorf("average lag %v, want at least the pipeline's %v and well under 5s", avg, delay)
	}

	// A marker that never arrives fails the call at the timeout.
	never := e.build(t, "kafka_freshness", "never", map[string]any{
		"topic": "fresh", "sql_target": "pg", "query": "SELECT 1 FROM " + tbl + " WHERE marker = $1 AND false", "timeout": "300ms",
	}, 1)
	res := never.Call(context.Background())
	if got := target.Classify(res.Err); got != "timeout" {
		t.Errorf("marker never seen: class %q (err %v), want timeout", got, res.Err)
	}
}

// TestKafkaCheck checks the settings of the Kafka kinds as config
// validation sees them: every problem, with its key path.
func TestKafkaCheck(t *testing.T) {
	kafka := config.Target{Kind: "kafka"}
	for _, tc := range []struct {
		name, kind string
		raw        any
		target     config.Target
		want       []string
	}{
		{"produce ok", "kafka_produce", map[string]any{"topic": "t", "key": "$1", "args": []any{map[string]any{"kind": "sequence"}}}, kafka, nil},
		{"produce on an undefined target", "kafka_produce", map[string]any{"topic": "t"}, config.Target{}, nil},
		{"produce on postgres", "kafka_produce", map[string]any{"topic": "t"}, config.Target{Kind: "postgres"},
			[]string{"p: a kafka_produce action needs a kafka target, not postgres"}},
		{"produce problems", "kafka_produce", map[string]any{
			"value": "$3", "records": -1,
			"fields": map[string]any{"a": map[string]any{"kind": "dice"}},
			"args":   []any{map[string]any{"kind": "string"}},
		}, kafka, []string{
			"p.topic: missing",
			"p.records: -1 is not between 1 and 1000000",
			"p: has both value and fields: a value is a template or a JSON object of fields, not both",
			"p.args[0].length: 0 is not between 1 and 1048576",
			"p.args: the key or value uses $3 but only 1 args are given",
			"p.fields.a.kind: \"dice\" is not one of choice, constant, now, sequence, string, uniform_int",
		}},
		{"produce bad duration", "kafka_produce", map[string]any{"topic": "t", "timeout": "-1s"}, kafka, []string{`p.timeout: "-1s": a duration must not be negative`}},
		{"consume ok", "kafka_consume", map[string]any{"topic": "t", "group": "g", "start": "beginning", "drain": "0s"}, kafka, nil},
		{"consume problems", "kafka_consume", map[string]any{"group": "g", "partitions": []any{0, -1}, "start": "middle", "max_records": -5}, kafka, []string{
			"p.topic: missing",
			"p.partitions: a group assigns partitions itself: set group or partitions, not both",
			"p.partitions[1]: -1 must not be negative",
			`p.start: "middle" is not one of end, beginning`,
			"p.max_records: -5 must not be negative",
		}},
		{"freshness ok", "kafka_freshness", map[string]any{"topic": "t", "sql_target": "pg", "query": "SELECT 1 FROM v WHERE id = $1"}, kafka, nil},
		{"freshness problems", "kafka_freshness", map[string]any{"value": "$3", "query": "SELECT $2"}, kafka, []string{
			"p.topic: missing",
			"p.sql_target: missing: the postgres target to poll for the marker",
			"p.query: uses $2: the query takes exactly one parameter, $1, the marker",
			"p.value: uses $3: only $1 (the marker) and $2 (the send time) exist",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Kinds.Decode(tc.kind, tc.raw, "p", tc.target)
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestKafkaConsumeConnectsAtBuild: a kafka_consume runner reaches the
// brokers while it is built, before the phase, so no call's time holds the
// first connection: the cluster sees a request before any call.
func TestKafkaConsumeConnectsAtBuild(t *testing.T) {
	e := newKafkaEnv(t, kfake.SeedTopics(1, "t"))
	var seen atomic.Int64
	for _, key := range []kmsg.Key{kmsg.ApiVersions, kmsg.Metadata} {
		e.c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
			e.c.KeepControl()
			seen.Add(1)
			return nil, nil, false // let the cluster answer
		})
	}
	e.build(t, "kafka_consume", "consume", map[string]any{"topic": "t", "start": "beginning", "poll_timeout": "200ms"}, 1)
	if seen.Load() == 0 {
		t.Fatal("building a kafka_consume runner sent no request to the cluster: its first call would connect")
	}
}
