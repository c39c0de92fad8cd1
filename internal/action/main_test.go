package action

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pbenchd/pbenchd/internal/target"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(closingEmbedded{m})
}

// closingEmbedded shuts down any embedded Kafka cluster a test started
// before goleak looks for goroutines left behind.
type closingEmbedded struct{ m *testing.M }

func (c closingEmbedded) Run() int {
	code := c.m.Run()
	target.CloseEmbedded()
	return code
}
