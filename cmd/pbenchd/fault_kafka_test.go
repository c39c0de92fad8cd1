package main

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var brokersRe = regexp.MustCompile(`embedded Kafka-protocol cluster started.* brokers=(\S+)`)

// TestFaultKafkaKilledMidPhase kills (SIGKILL) the process that serves the
// embedded Kafka cluster while another pbenchd produces to it, with the
// idempotent producer and without. franz-go keeps idempotent records of
// unknown outcome forever (twmb/franz-go #930); pbenchd must not: the calls
// end by their 2s timeout, the iteration ends at its phase's end, the
// daemon starts the next one, and SIGTERM ends it within its budget (5s
// for calls plus the 5s teardown_timeout), a second SIGTERM saying what
// it waits for.
func TestFaultKafkaKilledMidPhase(t *testing.T) {
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			a := startProc(t, nil, "run", "--web.listen-address", "127.0.0.1:0",
				"--config", writeConfig(t, "fault_kafka_a.yaml", nil))
			var broker string
			eventually(t, 20*time.Second, "process A's embedded cluster", func() (bool, string) {
				m := brokersRe.FindStringSubmatch(a.stderr.String())
				if m == nil {
					return false, a.stderr.String()
				}
				broker = m[1]
				return strings.Contains(a.stderr.String(), `msg="phase started"`), a.stderr.String()
			})
			b := startProc(t, nil, "run", "--web.listen-address", "127.0.0.1:0", "--log.level", "debug",
				"--config", writeConfig(t, "fault_kafka_b.yaml", map[string]any{"Broker": broker, "Idempotent": idem}))
			eventually(t, 20*time.Second, "B's phase", func() (bool, string) {
				return strings.Contains(b.stderr.String(), `msg="phase started"`), b.stderr.String()
			})
			time.Sleep(2 * time.Second) // calls succeed, some in flight
			a.signal(t, syscall.SIGKILL)
			killed := time.Now()
			// The phase ends 6s after it started and its calls 2s after
			// they began: the iteration's line comes within 6+1s of the
			// kill. 30s is slack for a loaded machine, far short of the
			// 80s seen wedged.
			eventually(t, 30*time.Second, "B's iteration to end after the kill", func() (bool, string) {
				return regexp.MustCompile(`msg="iteration (finished|failed|broke guarantees)"`).MatchString(b.stderr.String()), b.stderr.String()
			})
			t.Logf("B's iteration ended %v after the kill", time.Since(killed).Round(time.Millisecond))
			if b.exited() {
				t.Fatalf("B exited: %v", b.err)
			}
			if !regexp.MustCompile(`msg="iteration failed".*all \d+ calls failed|msg="iteration (finished|broke guarantees)".*errors=[1-9]`).MatchString(b.stderr.String()) {
				t.Errorf("B's iteration does not show the failed calls:\n%s", b.stderr.String())
			}
			// The next iteration comes: the daemon carries on (its check
			// before setup finds the broker gone, and it backs off).
			eventually(t, 30*time.Second, "B's next iteration", func() (bool, string) {
				return len(iterationLine.FindAllString(b.stderr.String(), -1)) >= 2, b.stderr.String()
			})
			b.signal(t, syscall.SIGTERM)
			stopped := time.Now()
			time.Sleep(200 * time.Millisecond)
			if !b.exited() {
				b.signal(t, syscall.SIGTERM)
				eventually(t, 5*time.Second, "the answer to a second SIGTERM", func() (bool, string) {
					return strings.Contains(b.stderr.String(), `msg="still stopping;`) && strings.Contains(b.stderr.String(), "waiting_for="), b.stderr.String()
				})
			}
			// The budget is 5s + 5s; 5s more is slack for process exit on
			// a loaded machine.
			if code := b.exitCode(t, 15*time.Second); code != 0 {
				t.Errorf("B exited with %d after SIGTERM, want 0", code)
			}
			t.Logf("B exited %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
		})
	}
}
