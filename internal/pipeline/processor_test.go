package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testBundle struct {
	store   *store.Store
	proc    *pipeline.Processor
	metrics *metrics.Metrics
}

func setup(t testing.TB, wrap func(*store.Store) pipeline.Store, opts ...pipeline.Option) *testBundle {
	t.Helper()
	s, err := store.Open(config.Storage{Driver: "sqlite", DSN: "file:" + filepath.Join(t.TempDir(), "hub.db"), Synchronous: "normal"})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	t.Cleanup(func() { s.Close() })
	m := metrics.New()
	var ps pipeline.Store = s
	if wrap != nil {
		ps = wrap(s)
	}
	cfg := config.Default()
	cfg.Services = []config.Service{
		{Name: "checkout", PagerDutyServiceIDs: []string{"PLVTM9H"}},
		{Name: "payments", PagerDutyServiceIDs: []string{"PA2P440"}, GitHubRepos: []string{"Codertocat/Hello-World"},
			DeployEnvironments: []string{"production"}, DeployWorkflows: []string{"deploy.yml"}},
	}
	cfg.Severities = []config.Severity{
		{Name: "SEV1", PagerDutyPriorities: []string{"P1"}},
		{Name: "SEV2", PagerDutyPriorities: []string{"P2"}, Urgency: "high"},
		{Name: "SEV4", PagerDutyPriorities: []string{"P4"}, Urgency: "low"},
	}
	normalizers := []pipeline.Normalizer{pagerduty.Normalizer{}, github.Normalizer{}}
	proc := pipeline.NewProcessor(ps, normalizers, pipeline.RulesFrom(&cfg), slog.New(slog.DiscardHandler), m, opts...)
	return &testBundle{store: s, proc: proc, metrics: m}
}

func (b *testBundle) deliver(t testing.TB, id, file string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", file))
	require.NoError(t, err)
	_, err = b.store.AppendDeliveries(context.Background(), []inbox.Delivery{{
		Source: incident.SourcePagerDuty, ID: id, ReceivedAt: time.Now(), Body: body,
	}})
	require.NoError(t, err)
}

func (b *testBundle) drain(t *testing.T) {
	t.Helper()
	for {
		more, err := b.proc.ProcessNext(context.Background())
		require.NoError(t, err)
		if !more {
			return
		}
	}
}

func (b *testBundle) status(t *testing.T, id string) inbox.Status {
	t.Helper()
	d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, id)
	require.NoError(t, err)
	return d.Status
}

// A note about a page the hub has not seen waits, and lands on the record
// once the page arrives, in the order things happened.
func TestProcessorDefersUntilPageIsKnown(t *testing.T) {
	b := setup(t, nil)
	b.deliver(t, "note", "incident.annotated.json")
	b.drain(t)
	require.Equal(t, inbox.StatusDeferred, b.status(t, "note"))

	b.deliver(t, "page", "incident.escalated.json")
	b.drain(t)
	require.Equal(t, inbox.StatusProcessed, b.status(t, "page"))
	require.Equal(t, inbox.StatusProcessed, b.status(t, "note"))

	rec, err := b.store.Incident(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, "SEV1", rec.Severity)
	require.Equal(t, []string{incident.EntryPageEscalated, incident.EntryNote}, []string{rec.Timeline[0].Kind, rec.Timeline[1].Kind})
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues("pagerduty", "deferred")))
	require.Equal(t, 2.0, testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues("pagerduty", "processed")))
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.IncidentsOpened.WithLabelValues("checkout", "SEV1")))
}

// failingStore fails every processing transaction, as a full disk would.
type failingStore struct {
	*store.Store
	calls int
}

func (f *failingStore) Process(context.Context, int64, func(*store.Tx) (inbox.Outcome, error)) error {
	f.calls++
	return errors.New("disk full")
}

// A delivery whose processing keeps failing is retried a bounded number
// of times, then marked failed so that those behind it go on.
func TestProcessorGivesUpOnAPoisonousDelivery(t *testing.T) {
	fs := &failingStore{}
	b := setup(t, func(s *store.Store) pipeline.Store { fs.Store = s; return fs })
	b.deliver(t, "poison", "incident.triggered.json")

	for range 4 {
		more, err := b.proc.ProcessNext(context.Background())
		require.ErrorContains(t, err, "disk full")
		require.False(t, more)
		require.Equal(t, inbox.StatusPending, b.status(t, "poison"))
	}
	more, err := b.proc.ProcessNext(context.Background())
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, inbox.StatusFailed, b.status(t, "poison"))
	require.Equal(t, 5, fs.calls)
	require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues("pagerduty", "failed")))
}

// Run processes what is stored and returns when its context ends.
func TestProcessorRun(t *testing.T) {
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.proc.Run(ctx, wake)
	}()
	b.deliver(t, "page", "incident.escalated.json")
	wake <- struct{}{}
	require.Eventually(t, func() bool { return b.status(t, "page") == inbox.StatusProcessed }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
}
