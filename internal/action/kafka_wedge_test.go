package action

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

// TestKafkaProduceBrokerKilledMidCalls kills the broker while calls are in
// flight, with the idempotent producer (franz-go keeps records of unknown
// outcome forever, twmb/franz-go #930) and without. Every call must end by
// its own timeout, and later calls too, whatever the client does.
func TestKafkaProduceBrokerKilledMidCalls(t *testing.T) {
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "w"))
			if err != nil {
				t.Fatal(err)
			}
			e := newKafkaEnvAt(t, c, c.ListenAddrs()[0])
			e.set = target.NewSet(map[string]config.Target{"k": {
				Kind: "kafka", Brokers: c.ListenAddrs(), ConnectTimeout: config.Dur(time.Second),
				Producer: config.Producer{Idempotent: &idem},
			}}, func(name string) prometheus.Gauge { return e.m.TargetUp.WithLabelValues(name) })
			const timeout = 2 * time.Second
			prod := e.build(t, "kafka_produce", "produce", map[string]any{
				"topic": "w", "value": "v", "timeout": timeout.String(), "records": 50,
			}, 16)
			ctx := context.Background()
			if res := prod.Call(ctx); res.Err != nil {
				t.Fatal(res.Err)
			}
			killed := make(chan time.Time, 1)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var worst time.Duration
			var afterKill, failed int
			stop := time.Now().Add(3 * timeout)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						t0 := time.Now()
						res := prod.Call(ctx)
						took := time.Since(t0)
						mu.Lock()
						if took > worst {
							worst = took
						}
						select {
						case k := <-killed:
							killed <- k
							if t0.After(k) {
								afterKill++
							}
						default:
						}
						if res.Err != nil {
							failed++
						}
						mu.Unlock()
					}
				}()
			}
			time.Sleep(300 * time.Millisecond)
			c.Close()
			killed <- time.Now()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			// A call lasts at most its timeout (plus a second of grace the
			// call itself allows past the delivery timeout); the loop's last
			// call starts before stop. 4×timeout more is slack for a loaded
			// machine, far below "forever".
			select {
			case <-done:
			case <-time.After(time.Until(stop) + 4*timeout):
				t.Fatalf("calls still running %s after the end of the test's window", 4*timeout)
			}
			prod.Close()
			if worst > 2*timeout {
				t.Errorf("the longest call took %s, want at most about the %s timeout", worst, timeout)
			}
			if afterKill == 0 || failed == 0 {
				t.Errorf("%d calls started after the kill, %d failed: the test did not exercise a dead broker", afterKill, failed)
			}
		})
	}
}
