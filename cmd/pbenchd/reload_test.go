package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

type reloadConfig struct {
	Scenario string
	Pause    string
	Invalid  bool
}

// TestReload changes the config file under a running daemon: SIGHUP and
// POST /-/reload swap in a valid config, and an invalid one is refused
// while the daemon goes on with the config it has.
func TestReload(t *testing.T) {
	t.Parallel()
	pgConn(t) // fail early, and clearly, if PostgreSQL is down
	path := writeConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"})
	// No --scenarios or --pause: flags would override the file.
	d := startDaemon(t, testDSN(), "--config", path, "--duration", "1s", "--warmup", "0s", "--web.enable-lifecycle")

	passes := func(f families, scenario string) float64 {
		v, _ := f.value("pbenchd_iterations_total", labels("scenario", scenario, "result", "pass"))
		return v
	}
	reloadState := func(f families) (ok, ts float64) {
		ok, _ = f.value("pbenchd_config_last_reload_successful", nil)
		ts, _ = f.value("pbenchd_config_last_reload_success_timestamp_seconds", nil)
		return ok, ts
	}
	// /-/ready answers 200 once the loop runs, so SIGHUP is handled by then.
	eventually(t, 10*time.Second, "/-/ready", func() (bool, string) {
		code, _, _ := d.get(t, "/-/ready")
		return code == http.StatusOK, fmt.Sprint(code)
	})
	eventually(t, 10*time.Second, "a pass of e2e_reload_a", func() (bool, string) {
		n := passes(d.scrape(t, false), "e2e_reload_a")
		return n >= 1, fmt.Sprint(n)
	})
	ok0, ts0 := reloadState(d.scrape(t, false))
	if ok0 != 1 || ts0 == 0 {
		t.Fatalf("at start: pbenchd_config_last_reload_successful %v, timestamp %v; want 1 and the start time", ok0, ts0)
	}

	// SIGHUP with a valid new config: e2e_reload_b replaces e2e_reload_a.
	renderConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_b", Pause: "100ms"}, path)
	d.signal(t, syscall.SIGHUP)
	var ts1 float64
	eventually(t, 5*time.Second, "the reload timestamp to advance after SIGHUP", func() (bool, string) {
		ok, ts := reloadState(d.scrape(t, false))
		if ok != 1 {
			t.Fatalf("after SIGHUP with a valid config, pbenchd_config_last_reload_successful = %v, want 1", ok)
		}
		ts1 = ts
		return ts > ts0, fmt.Sprintf("timestamp %v (was %v)", ts, ts0)
	})
	eventually(t, 10*time.Second, "a pass of e2e_reload_b, the scenario of the new config", func() (bool, string) {
		n := passes(d.scrape(t, false), "e2e_reload_b")
		return n >= 1, fmt.Sprint(n)
	})
	// e2e_reload_a left the config: once its last iteration is over (b
	// has passed), none of its per-iteration series may linger, or alert
	// rules would go on judging a scenario that no longer runs.
	f := d.scrape(t, false)
	for _, name := range []string{"pbenchd_iterations_total", "pbenchd_last_iteration_timestamp_seconds",
		"pbenchd_result_qps", "pbenchd_result_latency_seconds", "pbenchd_result_error_ratio",
		"pbenchd_guarantee_qps_min", "pbenchd_guarantee_ok", "pbenchd_phase_active"} {
		if ms := f.find(name, labels("scenario", "e2e_reload_a")); len(ms) > 0 {
			t.Errorf("%s{scenario=\"e2e_reload_a\"}: %d series still exported after a reload removed the scenario and its last iteration ended", name, len(ms))
		}
	}
	if _, _, body := d.get(t, "/api/v1/results"); strings.Contains(string(body), `"e2e_reload_a"`) {
		t.Errorf("/api/v1/results still shows e2e_reload_a after a reload removed the scenario and its last iteration ended")
	}
	aAfter := passes(f, "e2e_reload_a")

	// POST /-/reload with an invalid config: 400, the gauge drops to 0, and
	// the daemon keeps running the config it had.
	renderConfig(t, "reload.yaml", reloadConfig{Scenario: "no_such_scenario", Pause: "0s", Invalid: true}, path)
	code, _, body := d.do(t, http.MethodPost, "/-/reload")
	if code != http.StatusBadRequest {
		t.Errorf("POST /-/reload with an invalid config: %d, want 400", code)
	}
	if want := `run.scenarios[0]: "no_such_scenario" is not a known scenario`; !strings.Contains(string(body), want) {
		t.Errorf("POST /-/reload with an invalid config says %q; want it to name the problem (%s)", body, want)
	}
	checkRefused := func(after string) float64 {
		t.Helper()
		f := d.scrape(t, false)
		ok, ts := reloadState(f)
		if ok != 0 {
			t.Errorf("after %s with an invalid config, pbenchd_config_last_reload_successful = %v, want 0", after, ok)
		}
		if ts != ts1 {
			t.Errorf("after %s with an invalid config, the success timestamp moved from %v to %v", after, ts1, ts)
		}
		return passes(f, "e2e_reload_b")
	}
	keepsRunning := func(after string, from float64) {
		t.Helper()
		eventually(t, 10*time.Second, "e2e_reload_b to go on after the refused "+after, func() (bool, string) {
			d.alive(t)
			n := passes(d.scrape(t, false), "e2e_reload_b")
			return n > from, fmt.Sprintf("%v passes (was %v)", n, from)
		})
	}
	keepsRunning("POST", checkRefused("POST /-/reload"))

	// SIGHUP with the same invalid config: refused too, and no crash.
	d.signal(t, syscall.SIGHUP)
	// The SIGHUP is handled asynchronously: wait for its log line.
	eventually(t, 5*time.Second, "the second refused reload to be logged", func() (bool, string) {
		n := strings.Count(d.stderr.String(), "config reload failed")
		return n >= 2, fmt.Sprintf("%d reload failures logged", n)
	})
	keepsRunning("SIGHUP", checkRefused("SIGHUP"))
	if n := passes(d.scrape(t, false), "e2e_reload_a"); n != aAfter {
		t.Errorf("e2e_reload_a, removed by the reload, ran again (%v passes, then %v)", aAfter, n)
	}

	if code, h, _ := d.get(t, "/-/reload"); code != http.StatusMethodNotAllowed || h.Get("Allow") == "" {
		t.Errorf("GET /-/reload: %d, Allow %q; want 405 with an Allow header", code, h.Get("Allow"))
	}

	// A valid config again: POST /-/reload succeeds and the gauge is 1.
	renderConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"}, path)
	if code, _, body := d.do(t, http.MethodPost, "/-/reload"); code != http.StatusOK {
		t.Errorf("POST /-/reload with a valid config: %d %s, want 200", code, body)
	}
	if ok, ts := reloadState(d.scrape(t, false)); ok != 1 || ts <= ts1 {
		t.Errorf("after a successful POST /-/reload: gauge %v, timestamp %v (was %v); want 1 and a later time", ok, ts, ts1)
	}
	eventually(t, 10*time.Second, "e2e_reload_a to run again", func() (bool, string) {
		n := passes(d.scrape(t, false), "e2e_reload_a")
		return n > aAfter, fmt.Sprint(n)
	})
	d.stop(t)
}
