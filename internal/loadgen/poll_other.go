//go:build !linux

package loadgen

import (
	"errors"
	"time"
)

// poller: the event loop is Linux's (epoll); elsewhere actions that could
// be driven by it use workers.
type poller struct{ locked bool }

type pollEvent struct {
	loop, slot int32
	in, out    bool
	wake       bool
}

var errNoPoller = errors.New("loadgen: no event loop on this system")

func newPoller() (*poller, error)                                    { return nil, errNoPoller }
func (*poller) add(int, int32, int32) error                          { return errNoPoller }
func (*poller) watch(int, int32, int32, bool) error                  { return errNoPoller }
func (*poller) remove(int)                                           {}
func (*poller) wake()                                                {}
func (*poller) close()                                               {}
func (p *poller) setLocked(locked bool)                              { p.locked = locked }
func (*poller) wait(time.Duration, []pollEvent) ([]pollEvent, error) { return nil, errNoPoller }

func (*poller) sleep(time.Duration) {}
