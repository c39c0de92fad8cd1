// Package server owns pbenchd's HTTP surface: /metrics, the health and
// readiness endpoints, /-/reload, and the JSON API of the last results,
// served through the Prometheus exporter toolkit (TLS and basic auth from
// --web.config.file).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// Backend is what the HTTP endpoints ask the daemon.
type Backend interface {
	// Ready reports whether config is loaded and a scenario has started.
	Ready() bool
	// Reload loads the configuration again.
	Reload() error
	// Results returns the last iteration of every scenario, for the API.
	Results() any
}

// Handler routes pbenchd's endpoints; /metrics serves what g gathers
// (reg's collectors, consistently: see metrics.Metrics.Consistent).
// lifecycle enables POST /-/reload.
func Handler(reg *prometheus.Registry, g prometheus.Gatherer, b Backend, version string, lifecycle bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		Registry:          reg,
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		if !b.Ready() {
			http.Error(w, "Not ready: no scenario has started yet.", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("Ready.\n"))
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Use POST or PUT to reload.", http.StatusMethodNotAllowed)
			return
		}
		if !lifecycle {
			http.Error(w, "Lifecycle API is not enabled: start pbenchd with --web.enable-lifecycle, or send SIGHUP.", http.StatusForbidden)
			return
		}
		if err := b.Reload(); err != nil {
			http.Error(w, "Reload failed, the running configuration is kept:\n"+err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("Reloaded.\n"))
	})
	mux.HandleFunc("/api/v1/results", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b.Results())
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "pbenchd",
		Description: "Benchmark scenarios against databases and Kafka, forever",
		Version:     version,
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/api/v1/results", Text: "Last results (JSON)"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err == nil {
		mux.Handle("/", landing)
	}
	return mux
}

// Server is the running HTTP server.
type Server struct {
	// Addr is the address it listens on.
	Addr net.Addr
	log  *slog.Logger
	// file is the private copy of the web config that exporter-toolkit
	// reads on every request and TLS handshake; only Use replaces it, so
	// the user's file broken or removed meanwhile changes nothing.
	file string
}

// Serve listens on addr (so the caller knows the port is bound when it
// returns) and serves h until ctx is done. webConfig is a validated web
// config snapshot (config.WebSnapshot; nil for plain HTTP). Errors after
// the listen, the toolkit's and net/http's, go to log.
func Serve(ctx context.Context, addr string, webConfig []byte, h http.Handler, log *slog.Logger) (*Server, error) {
	s := &Server{log: log}
	if webConfig != nil {
		dir, err := os.MkdirTemp("", "pbenchd-web-")
		if err != nil {
			return nil, fmt.Errorf("a private copy of the web config: %w", err)
		}
		context.AfterFunc(ctx, func() { os.RemoveAll(dir) })
		s.file = filepath.Join(dir, "web.yml")
		if err := s.write(webConfig); err != nil {
			return nil, err
		}
		if err := web.Validate(s.file); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebConfigFile: &s.file, WebSystemdSocket: new(bool)}
	go func() {
		if err := web.Serve(l, srv, flags, log); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return s, nil
}

// Use makes a newly validated web config snapshot the one served, from
// the next request on. Turning TLS and auth on or off needs a restart:
// then it says so and keeps the running one.
func (s *Server) Use(webConfig []byte) {
	switch {
	case s.file == "" && webConfig == nil:
		return
	case s.file == "" || webConfig == nil:
		s.log.Warn("web.config_file was added or removed: that takes effect at the next start; serving as before")
		return
	}
	if err := s.write(webConfig); err != nil {
		s.log.Error("cannot replace the web config; the previous one stays in force", "err", err)
	}
}

// write replaces the private copy in one rename, so that a request never
// reads half of it.
func (s *Server) write(b []byte) error {
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("a private copy of the web config: %w", err)
	}
	if err := os.Rename(tmp, s.file); err != nil {
		return fmt.Errorf("a private copy of the web config: %w", err)
	}
	return nil
}
