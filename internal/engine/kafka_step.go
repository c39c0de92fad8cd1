package engine

import (
	"context"
	"errors"

	"github.com/pbenchd/pbenchd/internal/config"
)

// topicStep makes sure a Kafka topic exists on a kafka target.
func (e *Engine) topicStep(ctx context.Context, sc *config.Scenario, target string, t *config.Topic) error {
	return errors.New("topic steps are not supported yet")
}
