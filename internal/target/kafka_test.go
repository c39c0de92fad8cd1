package target

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/config"
)

// cluster starts a kfake cluster for one test.
func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func kafkaTarget(t *testing.T, tc config.Target) (*Kafka, prometheus.Gauge) {
	t.Helper()
	tc.Kind = "kafka"
	if tc.ConnectTimeout.IsZero() {
		tc.ConnectTimeout = config.Dur(2 * time.Second)
	}
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "up"})
	up.Set(-1) // neither up nor down until something is observed
	k, err := NewKafka("k", tc, up, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, up
}

func TestEmbeddedOnePerTargetName(t *testing.T) {
	targets := map[string]config.Target{"a": {Kind: "kafka"}, "b": {Kind: "kafka"}}
	first, err := NewSet(targets, nil).Kafka("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Embedded || len(first.Brokers) != 1 {
		t.Fatalf("target without brokers: embedded = %v, brokers = %v; want one embedded broker", first.Embedded, first.Brokers)
	}
	// A reload makes a new Set: the cluster, and its address, stay.
	again, err := NewSet(targets, nil).Kafka("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Brokers[0] != first.Brokers[0] {
		t.Errorf("after a reload the embedded cluster moved from %s to %s", first.Brokers[0], again.Brokers[0])
	}
	other, err := NewSet(targets, nil).Kafka("b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.Brokers[0] == first.Brokers[0] {
		t.Errorf("targets a and b share the embedded cluster %s; want one each", first.Brokers[0])
	}
	if err := first.Ping(context.Background()); err != nil {
		t.Fatalf("ping the embedded cluster: %v", err)
	}
	CloseEmbedded()
	if err := again.Ping(context.Background()); err == nil {
		t.Error("ping after CloseEmbedded succeeded; want the cluster gone")
	}
}

func TestSetKafkaErrors(t *testing.T) {
	s := NewSet(map[string]config.Target{"pg": {Kind: "postgres"}}, nil)
	if _, err := s.Kafka("nope", nil); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("unknown target: err = %v, want ErrUnknownTarget", err)
	}
	if _, err := s.Kafka("pg", nil); err == nil || err.Error() != `target "pg" is of kind postgres, not kafka` {
		t.Errorf("postgres target: err = %v", err)
	}
}

func TestEnsureTopic(t *testing.T) {
	c := cluster(t)
	k, _ := kafkaTarget(t, config.Target{Brokers: c.ListenAddrs()})
	ctx := context.Background()
	compact := map[string]string{"cleanup.policy": "compact"}
	for _, tc := range []struct {
		name        string
		spec        config.Topic
		wantCreated bool
		wantErr     string
	}{
		{name: "missing topic is created", spec: config.Topic{Name: "t1", Partitions: 3, Configs: compact}, wantCreated: true},
		{name: "same settings are used", spec: config.Topic{Name: "t1", Partitions: 3, Replication: 1, Configs: compact}},
		{name: "unstated settings are not compared", spec: config.Topic{Name: "t1"}},
		{name: "other partitions", spec: config.Topic{Name: "t1", Partitions: 2},
			wantErr: `topic "t1" already exists with other settings (partitions: the topic has 3, the step asks for 2); delete it or change the step to match (pbenchd never alters a topic it did not create)`},
		{name: "other replication and config", spec: config.Topic{Name: "t1", Replication: 3, Configs: map[string]string{"cleanup.policy": "delete"}},
			wantErr: `topic "t1" already exists with other settings (replication: the topic has 1, the step asks for 3; configs.cleanup.policy: the topic has "compact", the step asks for "delete"); delete it or change the step to match (pbenchd never alters a topic it did not create)`},
		{name: "defaults", spec: config.Topic{Name: "t2"}, wantCreated: true},
		{name: "impossible replication", spec: config.Topic{Name: "t3", Replication: 3},
			wantErr: `create topic "t3": INVALID_REPLICATION_FACTOR`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created, err := k.EnsureTopic(ctx, tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created != tc.wantCreated {
				t.Errorf("created = %v, want %v", created, tc.wantCreated)
			}
		})
	}

	td := listTopics(t, k)
	if got := strings.Join(td.Names(), ","); got != "t1,t2" {
		t.Fatalf("topics = %s, want t1,t2", got)
	}
	if n := len(td["t1"].Partitions); n != 3 {
		t.Errorf("t1 has %d partitions, want 3", n)
	}
	if n := len(td["t2"].Partitions); n != 1 {
		t.Errorf("t2 has %d partitions, want the default 1", n)
	}
	for _, name := range []string{"t1", "t2", "t2"} { // deleting twice is fine
		if err := k.DeleteTopic(ctx, name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if td := listTopics(t, k); len(td) != 0 {
		t.Fatalf("after deleting: topics %v; want none", td.Names())
	}
}

// listTopics lists the topics through a new client (a client answers
// metadata requests from its cache for a while).
func listTopics(t *testing.T, k *Kafka) kadm.TopicDetails {
	t.Helper()
	cl, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func TestClassifyKafka(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"broker error code", kerr.NotLeaderForPartition, "kafka_not_leader_for_partition"},
		{"wrapped broker error", fmt.Errorf("produce: %w", kerr.InvalidRecord), "kafka_invalid_record"},
		{"unknown code", kerr.ErrorForCode(9999), "kafka_unknown_server_error"},
		{"record timeout after a broker error", fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, kerr.RequestTimedOut), "kafka_request_timed_out"},
		{"record timeout after a refused connection", fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, refused), "connect"},
		{"plain record timeout", kgo.ErrRecordTimeout, "timeout"},
		{"call deadline", context.DeadlineExceeded, "timeout"},
		{"sqlstate unchanged", &pgconn.PgError{Code: "40001"}, "sqlstate_40001"},
		{"other unchanged", errors.New("boom"), "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestKafkaSASL(t *testing.T) {
	c := cluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "s256pass"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "s512pass"))
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s512pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sasl config.SASL
		ok   bool
	}{
		{"plain", config.SASL{Mechanism: "PLAIN", Username: "plainuser", Password: "plainpass"}, true},
		{"scram-sha-256", config.SASL{Mechanism: "SCRAM-SHA-256", Username: "scram256", Password: "s256pass"}, true},
		{"scram-sha-512 from a password file", config.SASL{Mechanism: "SCRAM-SHA-512", Username: "scram512", PasswordFile: pwFile}, true},
		{"wrong password", config.SASL{Mechanism: "SCRAM-SHA-256", Username: "scram256", Password: "nope"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, up := kafkaTarget(t, config.Target{Brokers: c.ListenAddrs(), SASL: &tc.sasl})
			err := k.Ping(context.Background())
			if tc.ok != (err == nil) {
				t.Fatalf("ping: err = %v, want ok = %v", err, tc.ok)
			}
			want := 0.0
			if tc.ok {
				want = 1
			}
			if got := testutil.ToFloat64(up); got != want {
				t.Errorf("up = %v, want %v", got, want)
			}
		})
	}
}

func TestKafkaTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := cluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))

	k, up := kafkaTarget(t, config.Target{Brokers: c.ListenAddrs(), TLS: &config.TLS{CAFile: caFile, ServerName: "pbenchd-test"}})
	if err := k.Ping(context.Background()); err != nil {
		t.Fatalf("ping over TLS with the CA: %v", err)
	}
	if got := testutil.ToFloat64(up); got != 1 {
		t.Errorf("up = %v, want 1", got)
	}
	untrusted, up := kafkaTarget(t, config.Target{Brokers: c.ListenAddrs(), TLS: &config.TLS{ServerName: "pbenchd-test"}})
	if err := untrusted.Ping(context.Background()); err == nil {
		t.Fatal("ping over TLS without the CA succeeded; want a verification failure")
	}
	if got := testutil.ToFloat64(up); got != 0 {
		t.Errorf("up = %v, want 0", got)
	}
	if _, err := NewKafka("k", config.Target{Kind: "kafka", Brokers: []string{"x:1"}, TLS: &config.TLS{CAFile: filepath.Join(dir, "missing.pem")}}, nil, nil); err == nil ||
		!strings.HasPrefix(err.Error(), "target k: tls: ca_file: open ") {
		t.Errorf("missing CA file: err = %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pbenchd-test"},
		DNSNames: []string{"pbenchd-test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestKafkaUnreachable(t *testing.T) {
	k, up := kafkaTarget(t, config.Target{Brokers: []string{closedPort(t)}, ConnectTimeout: config.Dur(time.Second)})
	err := k.Ping(context.Background())
	if err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	if got := Classify(err); got != "connect" {
		t.Errorf("Classify(%v) = %q, want connect", err, got)
	}
	if got := testutil.ToFloat64(up); got != 0 {
		t.Errorf("up = %v, want 0", got)
	}
	if _, err := k.EnsureTopic(context.Background(), config.Topic{Name: "x"}); err == nil {
		t.Error("EnsureTopic on a closed port succeeded")
	}
}

func TestProducerOpts(t *testing.T) {
	no := false
	for _, p := range []config.Producer{
		{},
		{Acks: "leader", Linger: config.Dur(5 * time.Millisecond), Compression: "zstd"},
		{Acks: "none", Compression: "lz4"},
		{Acks: "all", Idempotent: &no, Compression: "gzip"},
		{Compression: "snappy"},
	} {
		opts, err := producerOpts(p)
		if err != nil {
			t.Errorf("%+v: %v", p, err)
			continue
		}
		// kgo checks the combination (idempotence needs acks all).
		cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
		if err != nil {
			t.Errorf("%+v: kgo rejects the options: %v", p, err)
			continue
		}
		cl.Close()
	}
	if _, err := producerOpts(config.Producer{Acks: "some"}); err == nil {
		t.Error("acks some accepted")
	}
}

func TestEndOffsetsAndGroupStart(t *testing.T) {
	c := cluster(t, kfake.SeedTopics(2, "t"))
	k, _ := kafkaTarget(t, config.Target{Brokers: c.ListenAddrs()})
	ctx := context.Background()
	cl, err := k.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t"}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := k.EndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if ends[0]+ends[1] != 3 || len(ends) != 2 {
		t.Fatalf("end offsets = %v, want two partitions holding 3 records", ends)
	}
	started, err := k.StartGroupAt(ctx, "g", "t", ends)
	if err != nil || !started {
		t.Fatalf("first StartGroupAt: started %v, err %v; want true, nil", started, err)
	}
	started, err = k.StartGroupAt(ctx, "g", "t", map[int32]int64{0: 0, 1: 0})
	if err != nil || started {
		t.Fatalf("second StartGroupAt: started %v, err %v; want false (the group keeps its commits)", started, err)
	}
	got, err := kadm.NewClient(cl).FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if o, _ := got.Lookup("t", p); o.At != end {
			t.Errorf("committed offset of t/%d = %d, want its end %d", p, o.At, end)
		}
	}
	if _, err := k.EndOffsets(ctx, "missing"); err == nil {
		t.Error("end offsets of a missing topic: no error")
	}
}

// TestKafkaCanceledDialKeepsCause: a dial the client abandons itself (its
// record timed out mid-dial) says nothing about the broker. It must not
// replace the refused connection seen before it, or a call that timed out
// against a closed port would be classed canceled instead of connect.
func TestKafkaCanceledDialKeepsCause(t *testing.T) {
	k, up := kafkaTarget(t, config.Target{Brokers: []string{"127.0.0.1:1"}})
	hook := upHook{k}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	canceled := &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}
	hook.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, refused)
	hook.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, canceled)
	if got := testutil.ToFloat64(up); got != 0 {
		t.Errorf("up = %v after a refused then an abandoned dial, want 0", got)
	}
	err := k.Explain(kgo.ErrRecordTimeout) // as franz-go fails a record whose dial it abandoned
	if got := Classify(err); got != "connect" {
		t.Errorf("Classify(%v) = %q, want connect", err, got)
	}
}
