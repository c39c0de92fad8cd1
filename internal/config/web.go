package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// The keys of an exporter-toolkit web config file.
var webConfigKeys = []string{"basic_auth_users", "http_server_config", "rate_limit", "tls_server_config"}

// tlsFileKeys maps the file keys of tls_server_config to the keys that
// hold the same thing inline.
var tlsFileKeys = [][2]string{{"cert_file", "cert"}, {"key_file", "key"}, {"client_ca_file", "client_ca"}}

// validateWeb checks the listen address and the web config file, and keeps
// a snapshot of the latter (see WebSnapshot).
func (c *Config) validateWeb() []error {
	var errs []error
	if err := checkListenAddress(c.Web.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("web.listen_address: %w", err))
	}
	if c.Web.ConfigFile != "" {
		snap, err := LoadWebConfig(c.Web.ConfigFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("web.config_file: %w", err))
		}
		c.Web.snapshot = snap
	}
	return errs
}

func checkListenAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (like :9731 or 127.0.0.1:9731): %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil {
		if _, err := net.LookupHost(host); err != nil {
			return fmt.Errorf("%q: host %q is neither an IP address nor a name that resolves: %w", addr, host, err)
		}
	}
	return nil
}

// WebSnapshot returns the web config file as it validated, with the
// certificate, key and client CA files it names inlined, or nil when there
// is no web config file. The HTTP server serves with it until a reload
// validates another, so a file broken or removed meanwhile changes nothing.
func (c *Config) WebSnapshot() []byte { return c.Web.snapshot }

// LoadWebConfig reads and validates an exporter-toolkit web config file:
// its keys, its users' bcrypt hashes, its certificate, key and client CA
// files (read and parsed) and the rest as exporter-toolkit checks it. It
// returns the file with those files inlined (see WebSnapshot).
func LoadWebConfig(path string) ([]byte, error) {
	b, err := ReadFileLimited(path, MaxWebConfigFileSize, "web config file")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(webConfigKeys, k) {
			bad("%s: unknown key; allowed are %s", k, strings.Join(webConfigKeys, ", "))
		}
	}
	if users, ok := m["basic_auth_users"].(map[string]any); ok {
		for _, u := range sortedKeys(users) {
			h, _ := users[u].(string)
			if _, err := bcrypt.Cost([]byte(h)); err != nil {
				bad("basic_auth_users.%s: not a bcrypt hash (make one with htpasswd -nBC 10 %s): %v", u, u, err)
			}
		}
	} else if v, ok := m["basic_auth_users"]; ok && v != nil {
		bad("basic_auth_users: %s is not a mapping of user names to bcrypt hashes", show(v))
	}
	if tc, ok := m["tls_server_config"].(map[string]any); ok {
		for _, fk := range tlsFileKeys {
			f, ok := tc[fk[0]].(string)
			if !ok || f == "" {
				continue
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(path), f)
			}
			content, err := ReadFileLimited(f, MaxConfigFileSize, "certificate or key file")
			if err != nil {
				bad("tls_server_config.%s: %v", fk[0], err)
				continue
			}
			delete(tc, fk[0])
			tc[fk[1]] = string(content)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	snap, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The rest (TLS versions, ciphers, a key that matches its certificate,
	// headers) as exporter-toolkit checks it, on the snapshot.
	dir, err := os.MkdirTemp("", "pbenchd-web-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(tmp, snap, 0o600); err != nil {
		return nil, err
	}
	if err := web.Validate(tmp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return snap, nil
}
