package engine

import (
	"context"
	"errors"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/target"
)

func kafkaCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// topicsOf lists the cluster's topics and their partition counts, through
// a new client each time (clients cache metadata).
func topicsOf(t *testing.T, addrs []string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for name, d := range td {
		out[name] = len(d.Partitions)
	}
	return out
}

func kafkaEngine(brokers []string) (*Engine, *metrics.Metrics) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"k": {Kind: "kafka", Brokers: brokers, ConnectTimeout: config.Dur(time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(10 * time.Second), TeardownTimeout: config.Dur(10 * time.Second)},
	}
	return New(cfg, m, quiet), m
}

func produceAction(name, topic, rate string) config.Action {
	r, err := pace.ParseRate(rate)
	if err != nil {
		panic(err)
	}
	return config.Action{
		Name: name, Open: &config.OpenLoop{Spec: pace.Spec{Rate: r}, MaxInflight: 10}, Kind: "kafka_produce",
		Kinds: map[string]any{"kafka_produce": map[string]any{"topic": topic, "value": "v", "timeout": "2s"}},
	}
}

// TestTopicSetupTeardown: setup creates the missing topic and uses the one
// that exists with the same settings; teardown deletes exactly what setup
// created.
func TestTopicSetupTeardown(t *testing.T) {
	c := kafkaCluster(t, kfake.SeedTopics(3, "existing"))
	addrs := c.ListenAddrs()
	e, _ := kafkaEngine(addrs)
	sc := &config.Scenario{
		Name: "topics", Target: "k",
		Setup: []config.Step{
			{Topic: &config.Topic{Name: "made", Partitions: 2, Configs: map[string]string{"retention.ms": "60000"}}},
			{Topic: &config.Topic{Name: "existing", Partitions: 3}},
		},
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(time.Second), Actions: []config.Action{
			produceAction("to_made", "made", "50/s"), produceAction("to_existing", "existing", "50/s"),
		}}}},
	}
	it := e.Iterate(context.Background(), sc, Stage{Setup: true})
	if it.Result != Pass {
		t.Fatalf("result %s: %v", it.Result, it.Err)
	}
	if got, want := topicsOf(t, addrs), map[string]int{"made": 2, "existing": 3}; !maps.Equal(got, want) {
		t.Errorf("topics after setup = %v, want %v", got, want)
	}
	for _, r := range it.Results {
		if r.OK < 40 || r.Failed != 0 {
			t.Errorf("%s: %d ok, %d failed; want about 50 ok and none failed (calls %d dropped %d p99 %v max %v)", r.Action, r.OK, r.Failed, r.Calls, r.Dropped, r.SLO.P99, r.SLO.Max)
		}
	}
	if err := e.Teardown(sc, time.Time{}); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if got, want := topicsOf(t, addrs), map[string]int{"existing": 3}; !maps.Equal(got, want) {
		t.Errorf("topics after teardown = %v, want %v (only what setup created is deleted)", got, want)
	}
	if err := e.Teardown(sc, time.Time{}); err != nil {
		t.Errorf("a second teardown: %v; want nothing left to do", err)
	}
}

// TestTopicSetupOtherSettings: a topic that exists with other settings
// stops setup with an error naming the setting; teardown deletes the topic
// setup had created before it, and leaves the existing one alone.
func TestTopicSetupOtherSettings(t *testing.T) {
	c := kafkaCluster(t, kfake.SeedTopics(3, "existing"))
	addrs := c.ListenAddrs()
	e, _ := kafkaEngine(addrs)
	sc := &config.Scenario{
		Name: "mismatch", Target: "k",
		Setup: []config.Step{
			{Topic: &config.Topic{Name: "made"}},
			{Topic: &config.Topic{Name: "existing", Partitions: 1}},
		},
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(time.Second), Actions: []config.Action{
			produceAction("p", "made", "10/s"),
		}}}},
	}
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	if it.Result != Error {
		t.Fatalf("result %s, want error", it.Result)
	}
	want := `setup[1]: target k: topic "existing" already exists with other settings (partitions: the topic has 3, the step asks for 1)`
	if it.Err == nil || !strings.HasPrefix(it.Err.Error(), want) {
		t.Errorf("err = %v\nwant it to start with %s", it.Err, want)
	}
	if got, want := topicsOf(t, addrs), map[string]int{"existing": 3}; !maps.Equal(got, want) {
		t.Errorf("topics after teardown = %v, want %v", got, want)
	}
}

// TestKafkaTargetDown: brokers that cannot be reached make the iteration
// an error at once (the check before setup), and target_up 0; nothing crashes,
// the next iteration runs, and once a broker listens there the iterations
// pass again.
func TestKafkaTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e, m := kafkaEngine([]string{addr})
	a := produceAction("p", "t", "5/s")
	a.Kinds["kafka_produce"].(map[string]any)["timeout"] = "1s"
	sc := &config.Scenario{Name: "down", Target: "k", Phases: []config.Phase{{Load: &config.LoadPhase{
		Duration: config.Dur(time.Second), Actions: []config.Action{a},
	}}}}
	for i := range 2 {
		it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
		if it.Result != Error || !errors.Is(it.Err, ErrTargetDown) {
			t.Fatalf("iteration %d: result %s (%v), want an error: target down", i, it.Result, it.Err)
		}
	}
	if got := testutil.ToFloat64(m.TargetUp.WithLabelValues("k")); got != 0 {
		t.Errorf("target_up = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("down", "p", "connect")); got != 0 {
		t.Errorf("connect errors = %v, want 0: the check before setup finds the brokers down and no phase runs", got)
	}
	if got := testutil.ToFloat64(m.Iterations.WithLabelValues("down", "error")); got != 2 {
		t.Errorf("iterations_total{error} = %v, want 2", got)
	}

	kafkaCluster(t, kfake.Ports(port), kfake.SeedTopics(1, "t"))
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	if it.Result != Pass {
		t.Fatalf("iteration after the broker came up: result %s: %v", it.Result, it.Err)
	}
	if got := testutil.ToFloat64(m.TargetUp.WithLabelValues("k")); got != 1 {
		t.Errorf("target_up after recovery = %v, want 1", got)
	}
}

// TestBuiltinKafkaScenario runs the built-in kafka_produce_consume
// scenario, as `pbenchd once` would, on the embedded cluster of the
// default config's kafka target: it passes, the consumer saw every record
// once, and the topic is gone afterwards.
func TestBuiltinKafkaScenario(t *testing.T) {
	t.Cleanup(target.CloseEmbedded)
	cfg, err := config.Load(config.Options{
		Environ: []string{"PBENCHD_RUN__SCENARIOS=kafka_produce_consume", "PBENCHD_RUN__DURATION=3s", "PBENCHD_RUN__WARMUP=1s"},
		Kinds:   action.Kinds,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	e := New(cfg, m, quiet)
	sc := cfg.Scenario("kafka_produce_consume")
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	switch {
	case generatorBlamed(it):
		// The machine was too loaded to pace the schedule: not a verdict.
		t.Logf("result %s: %v", it.Result, it.Err)
	case it.Result != Pass:
		t.Fatalf("result %s: %v (verdicts %v)", it.Result, it.Err, it.Verdicts)
	}
	var produced int64
	for _, r := range it.Results {
		if r.Action == "produce" {
			produced = r.Calls
		}
	}
	if produced < 300 {
		t.Errorf("produce calls after the warm-up = %d, want about 400", produced)
	}
	if got := testutil.ToFloat64(m.KafkaMissing.WithLabelValues(sc.Name, "consume")); got != 0 {
		t.Errorf("missing = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.KafkaDuplicate.WithLabelValues(sc.Name, "consume")); got != 0 {
		t.Errorf("duplicates = %v, want 0", got)
	}
	// The consumer's own figures are in the results and judged: every
	// record produced over the whole phase (warm-up included) arrived once.
	figs := map[string]float64{}
	for _, f := range it.Figures["consume"] {
		figs[f.Name] = f.Value
	}
	if figs["missing"] != 0 || figs["duplicate"] != 0 || figs["records"] < float64(produced) || figs["e2e_p99"] <= 0 || figs["e2e_max"] < figs["e2e_p99"] {
		t.Errorf("consume figures %v: want no missing or duplicate record, at least the %d produced after the warm-up, 0 < e2e_p99 ≤ e2e_max", figs, produced)
	}
	var judged []string
	for _, v := range it.Verdicts {
		if v.Action == "consume" {
			judged = append(judged, v.String())
		}
	}
	if len(judged) != 3 || !strings.HasPrefix(judged[1], "missing 0 ≤ 0 ok") {
		t.Errorf("consume verdicts %q, want e2e_p99, missing and duplicate, all ok", judged)
	}
	if got := testutil.CollectAndCount(m.KafkaE2E, "pbenchd_kafka_e2e_latency_seconds"); got != 1 {
		t.Errorf("end-to-end latency series = %d, want 1", got)
	}
	k, err := e.Targets().Kafka("kafka", quiet)
	if err != nil {
		t.Fatal(err)
	}
	if got := topicsOf(t, k.Brokers); len(got) != 0 {
		t.Errorf("topics after teardown = %v, want none", got)
	}
}
