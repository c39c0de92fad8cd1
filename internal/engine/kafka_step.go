package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/pbenchd/pbenchd/internal/config"
)

// createdTopics remembers, per scenario, the Kafka topics its setup
// created, so that teardown deletes exactly those: a topic that already
// existed is used and left alone.
type createdTopics struct {
	mu sync.Mutex
	m  map[string][]createdTopic // scenario → topics, in creation order
}

type createdTopic struct{ target, topic string }

func (c *createdTopics) add(scenario string, t createdTopic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]createdTopic{}
	}
	c.m[scenario] = append(c.m[scenario], t)
}

// take returns and forgets the topics created for the scenario, newest
// first (teardown deletes them in that order, after its steps, which may
// drop what reads them).
func (c *createdTopics) take(scenario string) []createdTopic {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.m[scenario])
	slices.Reverse(out)
	delete(c.m, scenario)
	return out
}

// topicStep makes sure a Kafka topic exists on a kafka target with the
// step's settings, creating it if it is missing (and then remembering it
// for teardown). A topic that exists with other settings is an error that
// names them.
func (e *Engine) topicStep(ctx context.Context, sc *config.Scenario, target string, t *config.Topic) error {
	k, err := e.targets.Kafka(target, e.log)
	if err != nil {
		return err
	}
	created, err := k.EnsureTopic(ctx, *t)
	if err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	if created {
		e.topics.add(sc.Name, createdTopic{target: target, topic: t.Name})
		e.log.Debug("topic created", "scenario", sc.Name, "target", target, "topic", t.Name)
	} else {
		e.log.Debug("topic exists with the step's settings; using it", "scenario", sc.Name, "target", target, "topic", t.Name)
	}
	return nil
}

// dropTopic deletes a topic the scenario's setup created.
func (e *Engine) dropTopic(ctx context.Context, t createdTopic) error {
	k, err := e.targets.Kafka(t.target, e.log)
	if err == nil {
		err = k.DeleteTopic(ctx, t.topic)
	}
	if err != nil {
		return fmt.Errorf("target %s: %w", t.target, err)
	}
	return nil
}
