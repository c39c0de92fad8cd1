package target

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pbenchd/pbenchd/internal/config"
)

// DefaultKafkaClientID is the client id of a kafka target that sets none.
const DefaultKafkaClientID = "pbenchd"

// Kafka is a Kafka target: the options every client of it shares (seed
// brokers, client id, TLS, SASL), its producer settings, and its up gauge.
// It holds no connection itself: each runner and each setup step makes its
// own client with Client or Producer and closes it, so nothing outlives
// the phase or step that opened it except the embedded cluster.
type Kafka struct {
	// Name is the target's name in the config.
	Name string
	// Brokers are the seed brokers: the configured ones, or the addresses
	// of the embedded cluster.
	Brokers []string
	// Embedded tells whether Brokers belong to the in-process cluster.
	Embedded bool

	base     []kgo.Opt
	producer []kgo.Opt
	timeout  time.Duration
	up       prometheus.Gauge
	// dialErr is the error of the last connection attempt of a client
	// of this Kafka value, nil once one succeeded (see Explain).
	dialErr atomic.Pointer[error]
	// state is the last state told to health (-1: none yet).
	state  atomic.Int32
	health *Health
}

// setUp records the target's state in its gauge and, on a change, its
// health.
func (k *Kafka) setUp(up bool, err error) {
	if errors.Is(err, context.Canceled) {
		return // pbenchd stopped the call: says nothing of the target
	}
	v := int32(0)
	if up {
		v = 1
	}
	if k.up != nil {
		k.up.Set(float64(v))
	}
	if k.state.Swap(v) != v {
		k.health.Report(k.Name, up, err)
	}
}

// NewKafka resolves a kafka target's settings into client options. With no
// brokers configured it uses the target's embedded cluster, started on
// first use and kept for the life of the process (see Embedded). up, if not
// nil, follows whether clients of the target can reach a broker. log, if
// not nil, is told when an embedded cluster starts.
func NewKafka(name string, t config.Target, up prometheus.Gauge, log *slog.Logger) (*Kafka, error) {
	k := &Kafka{Name: name, Brokers: slices.Clone(t.Brokers), up: up}
	k.state.Store(-1)
	k.timeout = t.ConnectTimeout.D
	if k.timeout <= 0 {
		k.timeout = config.DefaultConnectTimeout
	}
	id := t.ClientID
	if id == "" {
		id = DefaultKafkaClientID
	}
	k.base = []kgo.Opt{
		kgo.ClientID(id),
		kgo.DialTimeout(k.timeout),
		kgo.WithHooks(upHook{k}),
		// Learn of moved leaders and recreated topics within a second
		// rather than kgo's default five, so a benchmark recovers fast.
		kgo.MetadataMinAge(time.Second),
	}
	if len(k.Brokers) == 0 {
		// TLS and SASL describe how to reach configured brokers; the
		// embedded cluster listens in plain text on the loopback.
		addrs, started, err := Embedded(name)
		if err != nil {
			return nil, fmt.Errorf("target %s: embedded Kafka cluster: %w", name, err)
		}
		if started && log != nil {
			log.Info("embedded Kafka-protocol cluster started (kfake); other clients may connect to it",
				"target", name, "brokers", strings.Join(addrs, ","))
		}
		k.Brokers, k.Embedded = addrs, true
	} else {
		if t.TLS != nil {
			tc, err := tlsConfig(t.TLS)
			if err != nil {
				return nil, fmt.Errorf("target %s: tls: %w", name, err)
			}
			k.base = append(k.base, kgo.DialTLSConfig(tc))
		}
		if t.SASL != nil {
			m, err := saslMechanism(t.SASL)
			if err != nil {
				return nil, fmt.Errorf("target %s: sasl: %w", name, err)
			}
			k.base = append(k.base, kgo.SASL(m))
		}
	}
	k.base = append(k.base, kgo.SeedBrokers(k.Brokers...))
	p, err := producerOpts(t.Producer)
	if err != nil {
		return nil, fmt.Errorf("target %s: producer: %w", name, err)
	}
	k.producer = p
	return k, nil
}

// CloseGrace bounds how long closing a Kafka client may hold up its
// caller. A client whose brokers died with requests in flight can take
// long to close; past this it is left to finish closing in the background.
const CloseGrace = 2 * time.Second

// CloseClient closes a client, waiting at most CloseGrace for it.
func CloseClient(cl *kgo.Client) {
	done := make(chan struct{})
	go func() {
		cl.Close()
		close(done)
	}()
	t := time.NewTimer(CloseGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Describe returns the seed brokers for logs (never credentials).
func (k *Kafka) Describe() string {
	s := "brokers=" + strings.Join(k.Brokers, ",")
	if k.Embedded {
		s += " (embedded)"
	}
	return s
}

// Client makes a client of the target with its connection settings and
// the extra options given (consumer options, say). The caller closes it.
func (k *Kafka) Client(extra ...kgo.Opt) (*kgo.Client, error) {
	opts := append(slices.Clone(k.base), extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", k.Name, err)
	}
	return cl, nil
}

// Producer makes a client with the target's producer settings (acks,
// linger, compression, idempotence) and then the extra options given. The
// caller closes it.
func (k *Kafka) Producer(extra ...kgo.Opt) (*kgo.Client, error) {
	return k.Client(append(slices.Clone(k.producer), extra...)...)
}

// Ping asks a broker for metadata, bounded by the connect timeout, and
// updates the up gauge.
func (k *Kafka) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	cl, err := k.Client()
	if err != nil {
		return err
	}
	defer CloseClient(cl)
	err = cl.Ping(ctx)
	if err == nil || IsDown(err) {
		k.setUp(err == nil, err)
	}
	return err
}

// Observe updates the up gauge from the outcome of a call: success means
// up; a failure to connect or a lost connection means down; an error the
// broker answered with says it is up. Clients of the target also report
// every connection attempt (see upHook).
func (k *Kafka) Observe(err error) {
	switch {
	case err == nil:
		k.setUp(true, nil)
	case IsConnectionError(err):
		k.setUp(false, err)
	}
}

// upHook keeps the up gauge in step with the client's connection attempts:
// a broker that cannot be dialled (or refuses the TLS or SASL handshake)
// is down, one that accepts a connection is up.
type upHook struct{ k *Kafka }

var _ kgo.HookBrokerConnect = upHook{}

func (h upHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if errors.Is(err, context.Canceled) {
		// The client gave the dial up itself (a record timed out, the
		// client closed): that says nothing about the broker, and must not
		// hide the last answer one gave (a refused connection).
		return
	}
	if err != nil {
		h.k.dialErr.Store(&err)
	} else {
		h.k.dialErr.Store(nil)
	}
	h.k.setUp(err == nil, err)
}

// Explain adds the cause to a call that timed out while no broker could
// be reached: franz-go fails such records with a bare timeout when its
// own retries have not yet reported why, and "timeout" would hide that the
// brokers are down. With the cause joined, Classify says connect. Other
// errors come back as they are.
func (k *Kafka) Explain(err error) error {
	if err == nil || Classify(err) != "timeout" {
		return err
	}
	if derr := k.LastDialError(); derr != nil {
		return fmt.Errorf("%w (last connection attempt: %w)", err, derr)
	}
	return err
}

// LastDialError returns the error of the last attempt of this target's
// clients to connect to a broker, or nil if it succeeded (or none was
// made).
func (k *Kafka) LastDialError() error {
	if p := k.dialErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Kafka returns the kafka target of that name. log is told when the
// target's embedded cluster starts.
func (s *Set) Kafka(name string, log *slog.Logger) (*Kafka, error) {
	t, ok := s.cfg[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTarget, name)
	}
	if t.Kind != "kafka" {
		return nil, fmt.Errorf("target %q is of kind %s, not kafka", name, t.Kind)
	}
	var up prometheus.Gauge
	if s.upGauge != nil {
		up = s.upGauge(name)
	}
	k, err := NewKafka(name, t, up, log)
	if k != nil {
		k.health = s.health
	}
	return k, err
}

// EnsureTopic makes sure the topic exists with the settings the spec
// states. It creates a missing topic (partitions and replication default to
// 1) and reports created = true; a topic that exists with the stated
// settings is used as it is (created = false); one that exists with other
// settings is an error naming each setting that differs. Only the settings
// the spec states are compared: zero partitions or replication mean "1 when
// creating, anything when the topic exists".
func (k *Kafka) EnsureTopic(ctx context.Context, spec config.Topic) (created bool, err error) {
	for attempt := 1; ; attempt++ {
		created, err := k.ensureTopic(ctx, spec)
		if !errors.Is(err, kerr.TopicAlreadyExists) || attempt == 20 || ctx.Err() != nil {
			return created, err
		}
		// Made meanwhile by someone else, or still being deleted (Kafka
		// deletes asynchronously): look again, with a new client (a
		// client answers metadata requests from its cache for a while).
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

func (k *Kafka) ensureTopic(ctx context.Context, spec config.Topic) (created bool, err error) {
	cl, err := k.Client()
	if err != nil {
		return false, err
	}
	defer CloseClient(cl)
	adm := kadm.NewClient(cl)
	exists, err := k.checkTopic(ctx, adm, spec)
	if err != nil || exists {
		k.Observe(err)
		return false, err
	}
	configs := map[string]*string{}
	for key, v := range spec.Configs {
		configs[key] = kadm.StringPtr(v)
	}
	resp, err := adm.CreateTopic(ctx, int32(max(spec.Partitions, 1)), int16(max(spec.Replication, 1)), configs, spec.Name)
	k.Observe(err)
	switch {
	case err == nil:
		return true, nil
	case resp.ErrMessage != "":
		return false, fmt.Errorf("create topic %q: %w: %s", spec.Name, err, resp.ErrMessage)
	}
	return false, fmt.Errorf("create topic %q: %w", spec.Name, err)
}

// checkTopic reports whether the topic exists, and an error if it exists
// with settings other than the spec's.
func (k *Kafka) checkTopic(ctx context.Context, adm *kadm.Client, spec config.Topic) (bool, error) {
	details, err := adm.ListTopics(ctx, spec.Name)
	if err != nil {
		return false, fmt.Errorf("describe topic %q: %w", spec.Name, err)
	}
	d, ok := details[spec.Name]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return false, nil
	case d.Err != nil:
		return false, fmt.Errorf("describe topic %q: %w", spec.Name, d.Err)
	}
	var diffs []string
	if n := len(d.Partitions); spec.Partitions > 0 && n != spec.Partitions {
		diffs = append(diffs, fmt.Sprintf("partitions: the topic has %d, the step asks for %d", n, spec.Partitions))
	}
	if n := d.Partitions.NumReplicas(); spec.Replication > 0 && n != spec.Replication {
		diffs = append(diffs, fmt.Sprintf("replication: the topic has %d, the step asks for %d", n, spec.Replication))
	}
	if len(spec.Configs) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, spec.Name)
		if err != nil {
			return true, fmt.Errorf("describe configs of topic %q: %w", spec.Name, err)
		}
		rc, err := rcs.On(spec.Name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return true, fmt.Errorf("describe configs of topic %q: %w", spec.Name, err)
		}
		have := map[string]string{}
		for _, c := range rc.Configs {
			have[c.Key] = c.MaybeValue()
		}
		for _, key := range sortedKeys(spec.Configs) {
			want := spec.Configs[key]
			got, ok := have[key]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("configs.%s: the broker reports no such config, the step asks for %q", key, want))
			case got != want:
				diffs = append(diffs, fmt.Sprintf("configs.%s: the topic has %q, the step asks for %q", key, got, want))
			}
		}
	}
	if len(diffs) > 0 {
		return true, fmt.Errorf("topic %q already exists with other settings (%s); delete it or change the step to match (pbenchd never alters a topic it did not create)",
			spec.Name, strings.Join(diffs, "; "))
	}
	return true, nil
}

// DeleteTopic deletes a topic; one that is already gone is not an error.
func (k *Kafka) DeleteTopic(ctx context.Context, name string) error {
	cl, err := k.Client()
	if err != nil {
		return err
	}
	defer CloseClient(cl)
	resp, err := kadm.NewClient(cl).DeleteTopic(ctx, name)
	k.Observe(err)
	switch {
	case err == nil, errors.Is(err, kerr.UnknownTopicOrPartition):
		return nil
	case resp.ErrMessage != "":
		return fmt.Errorf("delete topic %q: %w: %s", name, err, resp.ErrMessage)
	}
	return fmt.Errorf("delete topic %q: %w", name, err)
}

// EndOffsets returns the end offset (the next offset to be written) of
// every partition of the topic, bounded by the connect timeout.
func (k *Kafka) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	cl, err := k.Client()
	if err != nil {
		return nil, err
	}
	defer CloseClient(cl)
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of topic %q: %w", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// StartGroupAt commits the offsets for a consumer group that has committed
// none on the topic, so that its members start exactly there; a group with
// commits on the topic keeps them (started reports whether it committed).
// Bounded by the connect timeout.
func (k *Kafka) StartGroupAt(ctx context.Context, group, topic string, offsets map[int32]int64) (started bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	cl, err := k.Client()
	if err != nil {
		return false, err
	}
	defer CloseClient(cl)
	adm := kadm.NewClient(cl)
	have, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = have.Error()
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) { // a new group: no commits
		return false, fmt.Errorf("offsets of group %q: %w", group, err)
	}
	committed := false
	have.Each(func(o kadm.OffsetResponse) { committed = committed || (o.Topic == topic && o.At >= 0) })
	if committed {
		return false, nil
	}
	os := kadm.Offsets{}
	for p, at := range offsets {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return false, fmt.Errorf("commit start offsets of group %q: %w", group, err)
	}
	return true, nil
}

func producerOpts(p config.Producer) ([]kgo.Opt, error) {
	acks := kgo.AllISRAcks()
	switch p.Acks {
	case "", "all":
	case "leader":
		acks = kgo.LeaderAck()
	case "none":
		acks = kgo.NoAck()
	default:
		return nil, fmt.Errorf("acks %q is not one of all, leader, none", p.Acks)
	}
	opts := []kgo.Opt{kgo.RequiredAcks(acks), kgo.ProducerLinger(p.Linger.D)}
	// Idempotence is the default, and needs acks from all in-sync
	// replicas; with weaker acks it is off unless asked for (which
	// validation rejects).
	idempotent := p.Acks == "" || p.Acks == "all"
	if p.Idempotent != nil {
		idempotent = *p.Idempotent
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	var codec kgo.CompressionCodec
	switch p.Compression {
	case "", "none":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("compression %q is not one of none, gzip, snappy, lz4, zstd", p.Compression)
	}
	return append(opts, kgo.ProducerBatchCompression(codec)), nil
}

func tlsConfig(t *config.TLS) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // asked for in the config, for test setups
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %q: no PEM certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("cert_file and key_file go together")
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func saslMechanism(s *config.SASL) (sasl.Mechanism, error) {
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)
}

// The embedded clusters, one per target name for the life of the process:
// a config reload makes new targets but finds the same cluster, so topics
// and the address other tools were given survive it.
var embedded struct {
	mu       sync.Mutex
	clusters map[string]*kfake.Cluster
}

// Embedded returns the broker addresses of the target's in-process
// Kafka-protocol cluster (franz-go's kfake, one broker on a random loopback
// port), starting it if it is not running; started tells whether this call
// started it.
func Embedded(name string) (addrs []string, started bool, err error) {
	embedded.mu.Lock()
	defer embedded.mu.Unlock()
	if c, ok := embedded.clusters[name]; ok {
		return c.ListenAddrs(), false, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("pbenchd-"+name))
	if err != nil {
		return nil, false, err
	}
	if embedded.clusters == nil {
		embedded.clusters = map[string]*kfake.Cluster{}
	}
	embedded.clusters[name] = c
	return c.ListenAddrs(), true, nil
}

// CloseEmbedded shuts every embedded cluster down. The daemon calls it once
// at exit; a later Embedded starts a fresh, empty cluster.
func CloseEmbedded() {
	embedded.mu.Lock()
	defer embedded.mu.Unlock()
	for name, c := range embedded.clusters {
		c.Close()
		delete(embedded.clusters, name)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
