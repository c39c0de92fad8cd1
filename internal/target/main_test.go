package target

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(closingEmbedded{m})
}

// closingEmbedded shuts the embedded clusters the tests started down
// before goleak looks for goroutines left behind.
type closingEmbedded struct{ m *testing.M }

func (c closingEmbedded) Run() int {
	code := c.m.Run()
	CloseEmbedded()
	return code
}
