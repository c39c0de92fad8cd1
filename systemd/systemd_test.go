package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
)

const (
	unitFile = "pbenchd.service"
	envFile  = "pbenchd.env"
	binary   = "/usr/local/bin/pbenchd"
	// maxExposure is the highest `systemd-analyze security` exposure level
	// accepted: the unit measures 1.2 with systemd 252 (what remains is
	// network access, which a benchmark needs, and a full /proc, which the
	// process collector needs for its start time). 1.5 leaves room for
	// other systemd versions' weights, not for a loosened sandbox.
	maxExposure = 1.5
)

// analyze runs systemd-analyze with args and returns its stdout and stderr;
// the test fails if it is missing.
func analyze(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin, lookErr := exec.LookPath("systemd-analyze")
	if lookErr != nil {
		t.Fatalf("systemd-analyze is not on PATH: install the Debian package systemd "+
			"(apt-get install -y --no-install-recommends systemd): %v", lookErr)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func readUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerify runs systemd-analyze verify on a copy of the unit whose
// ExecStart runs an executable that exists here (verify checks that), and
// fails on any output: verify exits 0 even on unknown keys.
func TestVerify(t *testing.T) {
	unit := readUnit(t)
	stand, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	copied := strings.Replace(unit, "ExecStart="+binary+" ", "ExecStart="+stand+" ", 1)
	if copied == unit {
		t.Fatalf("%s: no ExecStart=%s line to point at %s", unitFile, binary, stand)
	}
	path := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(path, []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := analyze(t, "verify", path)
	if err != nil || stderr != "" || stdout != "" {
		t.Errorf("systemd-analyze verify %s: %v\nstdout:\n%s\nstderr:\n%s", unitFile, err, stdout, stderr)
	}
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`)

func TestSecurityExposure(t *testing.T) {
	stdout, stderr, err := analyze(t, "security", "--offline=true", unitFile)
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s%s", err, stdout, stderr)
	}
	m := exposure.FindStringSubmatch(stdout + stderr)
	if m == nil {
		t.Fatalf("systemd-analyze security: no overall exposure level in:\n%s%s", stdout, stderr)
	}
	level, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if level > maxExposure {
		t.Errorf("exposure level %.1f %s, want at most %.1f; what is exposed:\n%s",
			level, m[2], maxExposure, exposedLines(stdout))
	}
	t.Logf("exposure level %.1f %s", level, m[2])
}

// exposedLines returns the lines of a security report that cost points.
func exposedLines(report string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(line, "✗") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestDirectives pins the settings the daemon depends on and the sandbox,
// which a lower exposure score alone would not (one setting can hide
// another's loss).
func TestDirectives(t *testing.T) {
	directives := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(readUnit(t)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			directives[k] = append(directives[k], v)
		}
	}
	for _, tc := range []struct{ key, want string }{
		{"Type", "notify"},
		{"NotifyAccess", "main"},
		{"WatchdogSec", "60s"},
		{"ExecStart", binary + " run --config /etc/pbenchd/pbenchd.yaml --results.file /var/lib/pbenchd/results.jsonl $PBENCHD_ARGS"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"EnvironmentFile", "-/etc/default/pbenchd"},
		{"Restart", "on-failure"},
		{"RestartPreventExitStatus", "2"},
		{"LimitNOFILE", "65536"},
		{"DynamicUser", "yes"},
		{"NoNewPrivileges", "yes"},
		{"CapabilityBoundingSet", ""},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"ProtectKernelTunables", "yes"},
		{"ProtectKernelModules", "yes"},
		{"ProtectKernelLogs", "yes"},
		{"ProtectControlGroups", "yes"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"},
		{"MemoryDenyWriteExecute", "yes"},
		{"WantedBy", "multi-user.target"},
	} {
		if got := directives[tc.key]; !slices.Contains(got, tc.want) {
			t.Errorf("%s=%q, want %s=%s", tc.key, got, tc.key, tc.want)
		}
	}
	// ProcSubset=pid would hide /proc/stat, whose boot time the process
	// collector needs for process_start_time_seconds: without it every
	// scrape of /metrics fails.
	if got := directives["ProcSubset"]; len(got) > 0 {
		t.Errorf("ProcSubset=%v: the process collector reads /proc/stat", got)
	}
}

// TestEnvFile checks that the environment file is something systemd reads:
// comments, blank lines and KEY=value lines, and that every variable it
// sets or shows is a shell-safe name.
func TestEnvFile(t *testing.T) {
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	assignment := regexp.MustCompile(`^#?([A-Za-z_][A-Za-z0-9_]*)=`)
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if m := assignment.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("%s:%d: %q is neither a comment nor KEY=value (systemd does not run a shell: no export, no $(…))", envFile, i+1, line)
		}
	}
	for _, name := range []string{"PBENCHD_ARGS", "PGHOST", "PGPASSWORD"} {
		if !seen[name] {
			t.Errorf("%s: no example of %s", envFile, name)
		}
	}
}

// TestTimeoutStopFitsTheStopBudget: after SIGTERM pbenchd exits within
// engine.StopGrace plus run.teardown_timeout; systemd must wait at least
// that long (plus 10s for closing connections and the HTTP server) before
// it SIGKILLs, or teardown would be cut short with the defaults.
func TestTimeoutStopFitsTheStopBudget(t *testing.T) {
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)$`).FindStringSubmatch(readUnit(t))
	if m == nil {
		t.Fatalf("%s sets no TimeoutStopSec", unitFile)
	}
	got, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: %v", m[1], err)
	}
	need := engine.StopGrace + config.DefaultTeardownTimeout + 10*time.Second
	if got < need {
		t.Errorf("TimeoutStopSec=%s, want at least %s (5s for calls, %s teardown, 10s to close)", got, need, config.DefaultTeardownTimeout)
	}
}
