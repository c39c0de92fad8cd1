package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/report"
)

// runLoad is `pbenchd load`: the data loads of one scenario, with a bar
// per table on a terminal and log lines otherwise.
func runLoad(cfg *config.Config, log *slog.Logger, name, shardText string, stderr io.Writer) int {
	if name == "" {
		fmt.Fprintln(stderr, "pbenchd load: --scenario is required")
		return exitUsage
	}
	sc := cfg.Scenario(name)
	if sc == nil {
		fmt.Fprintf(stderr, "pbenchd load: --scenario %q is not a known scenario\n", name)
		return exitUsage
	}
	shard, err := loader.ParseShard(shardText)
	if err != nil {
		fmt.Fprintf(stderr, "pbenchd load: --shard: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	eng := engine.New(cfg, metrics.New(prometheus.NewRegistry()), log)
	eng.SetShard(shard)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		eng.SetLoadProgress(func(_ string, totals map[string]int64) loader.Progress {
			return report.NewBars(f, totals)
		})
	}
	if err := eng.Load(ctx, sc); err != nil {
		log.Error("load failed", "scenario", name, "err", err)
		return exitFailed
	}
	return exitOK
}
