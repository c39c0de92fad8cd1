package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// stopper turns SIGINT and SIGTERM into a stop with a bounded end:
//
//   - the first signal cancels the context: calls in flight are cancelled,
//     teardown runs under its deadlines, and the process ends by the
//     stop's deadline (5s plus run.teardown_timeout) or is ended then;
//   - a second signal says what the stop is waiting for, and how long it
//     may still take;
//   - a third ends the process at once by that signal, teardown unfinished.
type stopper struct {
	ctx    context.Context
	cancel context.CancelFunc
	sigs   chan os.Signal
	log    *slog.Logger
	mu     sync.Mutex
	// deadline gives when a stop that came at t must be over; waiting says
	// what is under way (see use).
	deadline func(t time.Time) time.Time
	waiting  func() string
	done     chan struct{}
	exit     func(code int) // os.Exit; tests replace it
}

// exitStopOverdue is the exit status of a process that did not finish its
// stop within the budget and was ended by its own deadline.
const exitStopOverdue = 3

func newStopper(log *slog.Logger) *stopper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stopper{ctx: ctx, cancel: cancel, sigs: make(chan os.Signal, 3), log: log,
		done: make(chan struct{}), exit: os.Exit}
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM)
	go s.watch()
	return s
}

// use sets what the stopper asks when a signal comes.
func (s *stopper) use(deadline func(time.Time) time.Time, waiting func() string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline, s.waiting = deadline, waiting
}

// finished tells the stopper the process is about to exit on its own.
func (s *stopper) finished() {
	signal.Stop(s.sigs)
	close(s.done)
	s.cancel()
}

func (s *stopper) watch() {
	var first os.Signal
	select {
	case <-s.done:
		return
	case first = <-s.sigs:
	}
	at := time.Now()
	s.cancel()
	s.mu.Lock()
	by := at.Add(5 * time.Second)
	if s.deadline != nil {
		by = s.deadline(at)
	}
	s.mu.Unlock()
	s.log.Info("stopping: calls in flight are cancelled, then teardown runs; a second signal says what the stop waits for, a third exits at once",
		"signal", first.String(), "exit_by", by.Format(time.RFC3339))
	overdue := time.NewTimer(time.Until(by))
	defer overdue.Stop()
	for n := 2; ; n++ {
		select {
		case <-s.done:
			return
		case sig := <-s.sigs:
			if n == 2 {
				s.log.Warn("still stopping; send the signal once more to exit at once, leaving teardown unfinished",
					"signal", sig.String(), "waiting_for", s.what(), "exit_by_in", time.Until(by).Round(time.Second).String())
				continue
			}
			s.log.Error("exiting at once on a third signal; teardown is left unfinished", "signal", sig.String(), "abandoned", s.what())
			// End by the signal itself, as a process without a handler
			// would: shells and systemd then see what happened.
			signal.Reset(sig)
			if ss, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), ss)
				time.Sleep(time.Second)
			}
			s.exit(128 + int(sig.(syscall.Signal)))
			return
		case <-overdue.C:
			s.log.Error("the stop overran its budget; exiting without waiting longer", "abandoned", s.what(),
				"budget", by.Sub(at).String())
			s.exit(exitStopOverdue)
			return
		}
	}
}

func (s *stopper) what() string {
	s.mu.Lock()
	waiting := s.waiting
	s.mu.Unlock()
	if waiting == nil {
		return "nothing known"
	}
	if w := waiting(); w != "" {
		return w
	}
	return "nothing known (the process is closing connections)"
}
