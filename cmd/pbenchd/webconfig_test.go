package main

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestWebConfigLastGood: the running daemon serves with the web config
// that last validated. Breaking the file, or removing its users, changes
// nothing until a reload; a reload of a broken file is refused and the
// old users still apply; a reload of a valid file replaces them.
func TestWebConfigLastGood(t *testing.T) {
	pgConn(t)
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yml")
	users := func(user, pass string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return "basic_auth_users:\n  " + user + ": " + string(h) + "\n"
	}
	write := func(body string) {
		if err := os.WriteFile(web+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(web+".tmp", web); err != nil {
			t.Fatal(err)
		}
	}
	write(users("alice", "a-secret"))
	path := writeConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"})
	d := startDaemon(t, testDSN(), "--config", path, "--duration", "1s", "--web.config.file", web)
	auth := func(user, pass string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	expect := func(when string, header []string, want int) {
		t.Helper()
		if code, _, body := d.get(t, "/metrics", header...); code != want {
			t.Fatalf("%s: GET /metrics: %d, want %d\n%s", when, code, want, body)
		}
	}
	expect("at start, without credentials", nil, http.StatusUnauthorized)
	expect("at start, as alice", auth("alice", "a-secret"), http.StatusOK)

	write("basic_auth_users: [\n")
	expect("file broken, no reload", auth("alice", "a-secret"), http.StatusOK)
	write("")
	expect("users removed, no reload", nil, http.StatusUnauthorized)

	write("basic_auth_users:\n  bob: not-a-hash\n")
	d.signal(t, syscall.SIGHUP)
	eventually(t, 10*time.Second, "the refused reload", func() (bool, string) {
		return strings.Contains(d.stderr.String(), "basic_auth_users.bob: not a bcrypt hash"), d.stderr.String()
	})
	expect("after a refused reload, without credentials", nil, http.StatusUnauthorized)
	expect("after a refused reload, as alice", auth("alice", "a-secret"), http.StatusOK)

	write(users("bob", "b-secret"))
	d.signal(t, syscall.SIGHUP)
	eventually(t, 10*time.Second, "the reload", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="config reloaded"`), d.stderr.String()
	})
	expect("after the reload, as bob", auth("bob", "b-secret"), http.StatusOK)
	expect("after the reload, as alice", auth("alice", "a-secret"), http.StatusUnauthorized)
	if strings.Contains(d.stderr.String(), "Unable to parse configuration") {
		t.Errorf("the toolkit read the user's broken file:\n%s", d.stderr.String())
	}
	d.stop(t)
}
