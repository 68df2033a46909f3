// Package pipelinetest runs the pipeline in tests of the jobs that report
// to it: what a worker reports is decided by the router, as in a running
// hub, and the actions the decisions ask for are kept for the test.
package pipelinetest

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/router"
)

// Enqueued is an action a decision asked for.
type Enqueued struct {
	IncidentID int64
	incident.Action
}

// Hub processes hub events on a store.
type Hub struct {
	Reporter *hubevent.Reporter
	proc     *pipeline.Processor

	mu      sync.Mutex
	actions []Enqueued
}

// New returns a hub over s that decides by rules.
func New(s *store.Store, rules router.Rules) *Hub {
	h := &Hub{Reporter: hubevent.NewReporter(s, s)}
	h.proc = pipeline.NewProcessor(s, []pipeline.Normalizer{hubevent.Normalizer{}}, rules,
		slog.New(slog.DiscardHandler), metrics.New(), pipeline.WithActions(h))
	return h
}

// Enqueue implements pipeline.Enqueuer.
func (h *Hub) Enqueue(_ context.Context, _ *sql.Tx, incidentID int64, a incident.Action) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actions = append(h.actions, Enqueued{IncidentID: incidentID, Action: a})
	return nil
}

// Process decides every pending delivery, in order.
func (h *Hub) Process(t testing.TB) {
	t.Helper()
	for {
		more, err := h.proc.ProcessNext(context.Background())
		require.NoError(t, err)
		if !more {
			return
		}
	}
}

// Actions returns the actions asked for so far and forgets them.
func (h *Hub) Actions() []Enqueued {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.actions
	h.actions = nil
	return out
}
