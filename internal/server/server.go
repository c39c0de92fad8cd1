// Package server owns pbenchd's HTTP surface: /metrics, the health and
// readiness endpoints, /-/reload, and the JSON API of the last results,
// served through the Prometheus exporter toolkit (TLS and basic auth from
// --web.config.file).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
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

// Handler routes pbenchd's endpoints. lifecycle enables POST /-/reload.
func Handler(reg *prometheus.Registry, b Backend, version string, lifecycle bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
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

// Serve listens on addr (so the caller knows the port is bound when it
// returns) and serves h until ctx is done. webConfig is an exporter-toolkit
// web config file ("" for plain HTTP). Errors after the listen are logged.
func Serve(ctx context.Context, addr, webConfig string, h http.Handler, log *slog.Logger) (net.Addr, error) {
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebConfigFile: &webConfig, WebSystemdSocket: new(bool)}
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
	return l.Addr(), nil
}
