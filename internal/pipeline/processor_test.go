package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
	"github.com/incidenthub/incidenthub/router"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testBundle struct {
	store   *store.Store
	proc    *pipeline.Processor
	metrics *metrics.Metrics
	rules   router.Rules
}

// forEachDriver runs a test on every store: SQLite, and PostgreSQL when
// its DSN is set.
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Parallel()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) { test(t, driver) })
	}
}

func setup(t testing.TB, driver string, wrap func(*store.Store) pipeline.Store, opts ...pipeline.Option) *testBundle {
	t.Helper()
	s := storetest.Open(t, driver)
	m := metrics.New()
	var ps pipeline.Store = s
	if wrap != nil {
		ps = wrap(s)
	}
	cfg := config.Default()
	cfg.GitHub.ReviewRepo = "Codertocat/Hello-World"
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
	rules := pipeline.RulesFrom(&cfg)
	proc := pipeline.NewProcessor(ps, normalizers, rules, slog.New(slog.DiscardHandler), m, opts...)
	return &testBundle{store: s, proc: proc, metrics: m, rules: rules}
}

func (b *testBundle) deliver(t testing.TB, id, file string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", file))
	require.NoError(t, err)
	_, err = b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{
		Source: incident.SourcePagerDuty, ID: id, ReceivedAt: time.Now(), Body: body,
	}})
	require.NoError(t, err)
}

// run runs the processor as the app does; stop ends it and waits.
func (b *testBundle) run() (wake chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	wake = make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.proc.Run(ctx, wake)
	}()
	return wake, func() { cancel(); <-done }
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

// onlyRecord is the one record the store holds, read whole.
func (b *testBundle) onlyRecord(t *testing.T, msgAndArgs ...any) incident.Record {
	t.Helper()
	recs, err := b.store.Incidents(context.Background(), store.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, recs, 1, msgAndArgs...)
	rec, err := b.store.Incident(context.Background(), recs[0].ID)
	require.NoError(t, err)
	return rec
}

func (b *testBundle) status(t *testing.T, id string) delivery.Status {
	t.Helper()
	d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, id)
	require.NoError(t, err)
	return d.Status
}

// A note about a page the hub has not seen waits, and lands on the record
// once the page arrives, in the order things happened.
func TestProcessorDefersUntilPageIsKnown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		b.deliver(t, "note", "incident.annotated.json")
		b.drain(t)
		require.Equal(t, delivery.StatusDeferred, b.status(t, "note"))

		b.deliver(t, "page", "incident.escalated.json")
		b.drain(t)
		require.Equal(t, delivery.StatusProcessed, b.status(t, "page"))
		require.Equal(t, delivery.StatusProcessed, b.status(t, "note"))

		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, "SEV1", rec.Severity)
		require.Equal(t, []string{incident.EntryPageEscalated, incident.EntryNote}, []string{rec.Timeline[0].Kind, rec.Timeline[1].Kind})
		require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues("pagerduty", "deferred")))
		require.Equal(t, 2.0, testutil.ToFloat64(b.metrics.Deliveries.WithLabelValues("pagerduty", "processed")))
		require.Equal(t, 1.0, testutil.ToFloat64(b.metrics.IncidentsOpened.WithLabelValues("checkout", "SEV1")))
	})
}

// failingStore fails every processing transaction, as a full disk would.
type failingStore struct {
	*store.Store
	calls int
}

func (f *failingStore) Process(context.Context, int64, func(*store.Tx) (delivery.Outcome, error)) error {
	f.calls++
	return errors.New("disk full")
}

// While the store fails, the delivery stays pending and keeps its place:
// skipping it would apply its incident's later events first.
func TestProcessorRetriesStoreErrorsWithoutGivingUp(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		fs := &failingStore{}
		b := setup(t, driver, func(s *store.Store) pipeline.Store { fs.Store = s; return fs })
		b.deliver(t, "d", "incident.triggered.json")
		for range 10 {
			more, err := b.proc.ProcessNext(context.Background())
			require.ErrorContains(t, err, "disk full")
			require.False(t, more)
		}
		d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, "d")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusPending, d.Status)
		require.Zero(t, d.Attempts)
	})
}

// panicky panics on one delivery, as a bug would.
type panicky struct{}

func (panicky) Source() incident.Source { return "panicky" }
func (panicky) Normalize(delivery.Delivery) ([]incident.Event, error) {
	var ev *incident.Event
	return []incident.Event{*ev}, nil
}

// A delivery whose processing panics is retried a bounded number of
// times, then marked failed so that those behind it go on.
func TestProcessorGivesUpOnAPoisonousDelivery(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		proc := pipeline.NewProcessor(b.store, []pipeline.Normalizer{panicky{}, pagerduty.Normalizer{}}, b.rules, slog.New(slog.DiscardHandler), b.metrics)
		_, err := b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{Source: "panicky", ID: "poison", ReceivedAt: time.Now(), Body: []byte("{}")}})
		require.NoError(t, err)
		b.deliver(t, "after", "incident.triggered.json")

		for range 4 {
			more, err := proc.ProcessNext(context.Background())
			require.ErrorContains(t, err, "panicked")
			require.False(t, more)
		}
		more, err := proc.ProcessNext(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		poison, err := b.store.Delivery(context.Background(), "panicky", "poison")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusFailed, poison.Status)
		require.Contains(t, poison.Reason, "nil pointer")

		more, err = proc.ProcessNext(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, delivery.StatusProcessed, b.status(t, "after"), "the next delivery goes on")
	})
}

// A delivery that waits for a page that never arrives stops waiting.
func TestProcessorExpiresDeferredDeliveries(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		b.deliver(t, "note", "incident.annotated.json")
		b.drain(t)
		require.Equal(t, delivery.StatusDeferred, b.status(t, "note"))

		n, err := b.store.ExpireDeferred(context.Background(), time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "received just now: still waiting")
		n, err = b.store.ExpireDeferred(context.Background(), time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, "note")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusIgnored, d.Status)
		require.Equal(t, "its PagerDuty incident Q3B15VLMF3ASBD never arrived", d.Reason)
	})
}

// Run processes what is stored and returns when its context ends.
func TestProcessorRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		wake, stop := b.run()
		b.deliver(t, "page", "incident.escalated.json")
		wake <- struct{}{}
		require.Eventually(t, func() bool { return b.status(t, "page") == delivery.StatusProcessed }, 5*time.Second, 5*time.Millisecond)
		stop()
	})
}

// A NUL (a JSON \u0000) or invalid UTF-8 in a vendor's text is stored as
// U+FFFD on both databases: PostgreSQL refuses NUL in text, and one such
// delivery must not stall the inbox.
func TestProcessorStoresHostileText(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", "incident.triggered.json"))
		require.NoError(t, err)
		body = bytes.Replace(body, []byte(`"title": "Test Incident 3"`), []byte(`"title": "Test\u0000Incident \udfff3"`), 1)
		require.Contains(t, string(body), `\u0000`)
		_, err = b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{
			Source: incident.SourcePagerDuty, ID: "nul", ReceivedAt: time.Now(), Body: body,
		}})
		require.NoError(t, err)
		b.drain(t)
		require.Equal(t, delivery.StatusProcessed, b.status(t, "nul"))
		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, "Test\uFFFDIncident \uFFFD3", rec.Title)
	})
}

// What a signed delivery carries can reach a reason (an unknown event
// name, quoted): the stored reason and its log line stay bounded, on one
// line.
func TestProcessorBoundsReasons(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", "incident.triggered.json"))
		require.NoError(t, err)
		long := "incident.\\n" + strings.Repeat("x", 100_000)
		body = bytes.Replace(body, []byte(`"event_type": "incident.triggered"`), []byte(`"event_type": "`+long+`"`), 1)
		require.Contains(t, string(body), long)
		_, err = b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{
			Source: incident.SourcePagerDuty, ID: "long", ReceivedAt: time.Now(), Body: body,
		}})
		require.NoError(t, err)
		b.drain(t)
		d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, "long")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusIgnored, d.Status)
		require.Contains(t, d.Reason, "incident.")
		require.LessOrEqual(t, len([]rune(d.Reason)), 500)
		require.NotContains(t, d.Reason, "\n")
	})
}

// switchLease is a processing lease a test hands over and takes back.
type switchLease struct{ held atomic.Bool }

func (l *switchLease) Held(context.Context) (bool, error) { return l.held.Load(), nil }
func (l *switchLease) Release()                           { l.held.Store(false) }

// A replica without the processing lease leaves deliveries to the one
// that holds it, and takes over when the lease comes to it.
func TestProcessorProcessesOnlyUnderTheLease(t *testing.T) {
	lease := &switchLease{}
	b := setup(t, config.DriverSQLite, nil, pipeline.WithLease(lease))
	wake, stop := b.run()
	defer stop()

	b.deliver(t, "page", "incident.escalated.json")
	wake <- struct{}{}
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, delivery.StatusPending, b.status(t, "page"), "another replica holds the lease")

	lease.held.Store(true)
	wake <- struct{}{}
	require.Eventually(t, func() bool { return b.status(t, "page") == delivery.StatusProcessed }, 5*time.Second, 5*time.Millisecond)

	lease.Release()
	// Let a pass that began while the lease was held finish first: wake
	// holds one signal, so the third send returns only once the loop has
	// taken the second, after the passes before it (a replica that lost
	// its lease may finish what it began; the claim keeps it from
	// deciding anything twice).
	for range 3 {
		wake <- struct{}{}
	}
	b.deliver(t, "note", "incident.annotated.json")
	wake <- struct{}{}
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, delivery.StatusPending, b.status(t, "note"), "lost: it stops")
}

// A batch decides pending deliveries together, in arrival order; one
// that panics keeps the whole batch pending, and one at a time the others
// go through and it alone fails, after its bounded attempts.
func TestProcessorBatchFallsBackOneAtATime(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		proc := pipeline.NewProcessor(b.store, []pipeline.Normalizer{panicky{}, pagerduty.Normalizer{}}, b.rules, slog.New(slog.DiscardHandler), b.metrics)
		b.deliver(t, "first", "incident.triggered.json")
		_, err := b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{Source: "panicky", ID: "poison", ReceivedAt: time.Now(), Body: []byte("{}")}})
		require.NoError(t, err)
		b.deliver(t, "after", "incident.acknowledged.json")

		_, err = proc.ProcessBatch(context.Background())
		require.ErrorContains(t, err, "panicked")
		require.Equal(t, delivery.StatusPending, b.status(t, "first"), "nothing of a failed batch is kept")
		more, err := proc.ProcessNext(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, delivery.StatusProcessed, b.status(t, "first"))

		_, err = proc.ProcessBatch(context.Background())
		require.Error(t, err)
		for range 4 {
			_, err := proc.ProcessNext(context.Background())
			require.ErrorContains(t, err, "panicked")
		}
		more, err = proc.ProcessNext(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		poison, err := b.store.Delivery(context.Background(), "panicky", "poison")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusFailed, poison.Status)

		more, err = proc.ProcessBatch(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, delivery.StatusProcessed, b.status(t, "after"))
		recs, err := b.store.Incidents(context.Background(), store.IncidentFilter{})
		require.NoError(t, err)
		require.Len(t, recs, 1, "the page's trigger and acknowledgement are one incident")
		more, err = proc.ProcessBatch(context.Background())
		require.NoError(t, err)
		require.False(t, more)
	})
}

// One event delivered three times under different delivery ids (a vendor
// that sends it again as new): applied once, whether its repeats are in
// its batch or a later one.
func TestProcessorAppliesAnEventOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		b.deliver(t, "first", "incident.triggered.json")
		b.deliver(t, "again", "incident.triggered.json")
		more, err := b.proc.ProcessBatch(context.Background())
		require.NoError(t, err)
		require.True(t, more)
		b.deliver(t, "later", "incident.triggered.json")
		_, err = b.proc.ProcessBatch(context.Background())
		require.NoError(t, err)

		require.Equal(t, delivery.StatusProcessed, b.status(t, "first"))
		for _, id := range []string{"again", "later"} {
			d, err := b.store.Delivery(context.Background(), incident.SourcePagerDuty, id)
			require.NoError(t, err)
			require.Equal(t, delivery.StatusIgnored, d.Status, id)
			require.Contains(t, d.Reason, "was applied before", id)
		}
		rec := b.onlyRecord(t)
		triggers := 0
		for _, e := range rec.Timeline {
			if strings.Contains(e.Summary, "triggered") {
				triggers++
			}
		}
		require.Equal(t, 1, triggers, "%+v", rec.Timeline)
	})
}
