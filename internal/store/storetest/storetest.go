// Package storetest is the conformance suite every store driver passes,
// run against SQLite always and PostgreSQL when
// INCIDENTHUB_TEST_POSTGRES_DSN names a server, like River's
// riverdrivertest.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// PostgresDSNVar names the PostgreSQL server tests also run on.
const PostgresDSNVar = "INCIDENTHUB_TEST_POSTGRES_DSN"

// Drivers are the stores every suite runs on: SQLite, and PostgreSQL when
// PostgresDSNVar is set.
func Drivers() []string {
	if os.Getenv(PostgresDSNVar) == "" {
		return []string{config.DriverSQLite}
	}
	return []string{config.DriverSQLite, config.DriverPostgres}
}

// Storage returns the settings of a fresh, empty database of the driver
// for one test: a file for SQLite, a schema of its own for PostgreSQL,
// dropped when the test ends.
func Storage(t testing.TB, driver string) config.Storage {
	t.Helper()
	if driver == config.DriverSQLite {
		return config.Storage{Driver: config.DriverSQLite, DSN: "file:" + filepath.Join(t.TempDir(), "hub.db"), Synchronous: "normal"}
	}
	dsn := os.Getenv(PostgresDSNVar)
	if dsn == "" {
		t.Skip(PostgresDSNVar + " is not set")
	}
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	_, err = db.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.Exec("DROP SCHEMA " + schema + " CASCADE")
		require.NoError(t, err)
		require.NoError(t, db.Close())
	})
	return config.Storage{Driver: config.DriverPostgres, DSN: withSearchPath(t, dsn, schema)}
}

// withSearchPath points a DSN's connections at one schema.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// Open returns a fresh, migrated store of the driver, closed when the
// test ends.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	return Replicas(t, driver, 1)[0]
}

// SQLite returns a fresh, migrated SQLite store in a temporary file,
// closed when the test ends.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, config.DriverSQLite)
}

// Replicas returns n stores on one fresh, migrated database of the
// driver, as n hub replicas would open it, closed when the test ends.
func Replicas(t testing.TB, driver string, n int) []*store.Store {
	t.Helper()
	cfg := Storage(t, driver)
	out := make([]*store.Store, n)
	for i := range out {
		s, err := store.Open(cfg)
		require.NoError(t, err)
		require.NoError(t, s.Migrate(context.Background()))
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		out[i] = s
	}
	return out
}

var t0 = time.Date(2026, 4, 1, 2, 7, 30, 0, time.UTC)

func sample(id string) delivery.Delivery {
	return delivery.Delivery{Source: incident.SourcePagerDuty, ID: id, ReceivedAt: t0, Body: []byte(`{"id":"` + id + `"}`)}
}

func record(key string, pages ...string) *incident.Record {
	r := &incident.Record{
		Title: "Checkout latency", Status: incident.StatusOpen, Kind: incident.KindIncident,
		Severity: "SEV2", Service: key, CorrelationKey: key, OpenedAt: t0,
	}
	for _, p := range pages {
		r.Pages = append(r.Pages, &incident.Page{ID: p, Status: incident.PageTriggered, TriggeredAt: t0, SnapshotAt: t0})
	}
	return r
}

func pageIDs(pages []*incident.Page) []string {
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.ID
	}
	return ids
}

func entry(key string, at time.Time) incident.TimelineEntry {
	return incident.TimelineEntry{At: at, Source: "pagerduty", Kind: incident.EntryNote, Summary: key, Key: key}
}

// process runs fn in a processing transaction of a throwaway delivery.
func process(t *testing.T, s *store.Store, fn func(*store.Tx) error) {
	t.Helper()
	require.NoError(t, tryProcess(t, s, fn))
}

// tryProcess is process for a transaction expected to fail: its error, as
// the pipeline would see it. (PostgreSQL refuses every statement after a
// failed one in the same transaction; SQLite goes on.)
func tryProcess(t *testing.T, s *store.Store, fn func(*store.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("tx-%d", time.Now().UnixNano())
	_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample(id)})
	require.NoError(t, err)
	d, err := s.Delivery(ctx, incident.SourcePagerDuty, id)
	require.NoError(t, err)
	return s.Process(ctx, d.Seq, func(tx *store.Tx) (delivery.Outcome, error) {
		return delivery.Outcome{Status: delivery.StatusProcessed}, fn(tx)
	})
}

// Run runs the suite on the driver.
func Run(t *testing.T, driver string) {
	ctx := context.Background()
	open := func(t *testing.T) *store.Store { return Open(t, driver) }

	t.Run("AppendDeliveriesDeduplicates", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		repeat := sample("a")
		repeat.Body = []byte(`{"id":"a","again":true}`)
		fresh, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("a"), sample("b"), repeat})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false}, fresh, "a repeat within one batch is a duplicate")
		first, err := s.Delivery(ctx, incident.SourcePagerDuty, "a")
		require.NoError(t, err)
		require.Equal(t, string(sample("a").Body), string(first.Body), "the first of the batch is kept")
		fresh, err = s.AppendDeliveries(ctx, []delivery.Delivery{sample("b"), sample("c")})
		require.NoError(t, err)
		require.Equal(t, []bool{false, true}, fresh)

		other := sample("a")
		other.Source = incident.SourceGitHub
		fresh, err = s.AppendDeliveries(ctx, []delivery.Delivery{other})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, fresh, "ids are per source")
	})

	// A batch is stored in its order (the order it is processed in), each
	// delivery with its own body to the byte, whatever the bodies hold
	// or however long they are, next to each other in one statement.
	t.Run("AppendDeliveriesKeepsOrderAndBodies", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		bodies := [][]byte{
			[]byte(`{"first":true}`), {}, {0, 0xff, '\\', 'x', 0}, []byte("\\x00 not hex"),
			bytes.Repeat([]byte("é"), 3000), []byte(`{"last":true}`),
		}
		ds := make([]delivery.Delivery, len(bodies))
		for i, body := range bodies {
			ds[i] = delivery.Delivery{Source: incident.SourceGitHub, ID: fmt.Sprint("ordered-", i), Event: fmt.Sprint("event-", i),
				ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), Body: body, Headers: map[string]string{"X-N": fmt.Sprint(i)}}
		}
		fresh, err := s.AppendDeliveries(ctx, ds)
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true, true, true, true}, fresh)
		var seqs []int64
		for i, want := range ds {
			got, err := s.Delivery(ctx, want.Source, want.ID)
			require.NoError(t, err)
			require.Equal(t, string(want.Body), string(got.Body), "body %d", i)
			require.Equal(t, want.Event, got.Event)
			require.Equal(t, want.Headers, got.Headers)
			require.True(t, want.ReceivedAt.Equal(got.ReceivedAt), "received at %d", i)
			seqs = append(seqs, got.Seq)
		}
		require.True(t, slices.IsSorted(seqs), "numbered in the batch's order: %v", seqs)
	})

	t.Run("AppendDeliveriesBeyondOneStatement", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// More than one insert statement holds, with a repeat across them.
		ds := make([]delivery.Delivery, 2500)
		for i := range ds {
			ds[i] = sample(fmt.Sprint("bulk-", i))
		}
		ds[2400] = sample("bulk-7")
		fresh, err := s.AppendDeliveries(ctx, ds)
		require.NoError(t, err)
		require.Len(t, fresh, len(ds))
		for i, f := range fresh {
			require.Equal(t, i != 2400, f, "delivery %d", i)
		}
		got, err := s.Deliveries(ctx, store.DeliveryFilter{Limit: 5000})
		require.NoError(t, err)
		require.Len(t, got, 2499)
	})

	t.Run("PruneDeliveries", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		old, young := t0, t0.Add(48*time.Hour)
		settle := func(id string, source incident.Source, at time.Time, status delivery.Status) {
			d := sample(id)
			d.Source, d.ReceivedAt = source, at
			_, err := s.AppendDeliveries(ctx, []delivery.Delivery{d})
			require.NoError(t, err)
			if status == delivery.StatusPending {
				return
			}
			stored, err := s.Delivery(ctx, source, id)
			require.NoError(t, err)
			require.NoError(t, s.Process(ctx, stored.Seq, func(*store.Tx) (delivery.Outcome, error) {
				return delivery.Outcome{Status: status, Reason: "test"}, nil
			}))
		}
		for i := range 7 {
			settle(fmt.Sprint("old-processed-", i), incident.SourcePagerDuty, old, delivery.StatusProcessed)
		}
		settle("old-ignored", incident.SourceGitHub, old, delivery.StatusIgnored)
		settle("old-unprocessable", incident.SourcePagerDuty, old, delivery.StatusUnprocessable)
		settle("old-pending", incident.SourcePagerDuty, old, delivery.StatusPending)
		settle("old-hub-event", incident.SourceHub, old, delivery.StatusProcessed)
		settle("young-processed", incident.SourcePagerDuty, young, delivery.StatusProcessed)

		cutoff := t0.Add(24 * time.Hour)
		prune := func(limit int, statuses ...delivery.Status) int64 {
			n, err := s.PruneDeliveries(ctx, store.PruneFilter{ReceivedBefore: cutoff, Statuses: statuses, Limit: limit})
			require.NoError(t, err)
			return n
		}
		require.EqualValues(t, 5, prune(5, delivery.StatusProcessed, delivery.StatusIgnored), "a batch at most")
		require.EqualValues(t, 3, prune(5, delivery.StatusProcessed, delivery.StatusIgnored), "the rest")
		require.EqualValues(t, 0, prune(5, delivery.StatusProcessed, delivery.StatusIgnored))
		require.EqualValues(t, 0, prune(5, delivery.StatusPending, delivery.StatusDeferred), "work to do is never pruned")
		var left []string
		all, err := s.Deliveries(ctx, store.DeliveryFilter{Limit: 100})
		require.NoError(t, err)
		for _, d := range all {
			if !strings.HasPrefix(d.ID, "tx-") {
				left = append(left, d.ID)
			}
		}
		require.ElementsMatch(t, []string{"old-unprocessable", "old-pending", "old-hub-event", "young-processed"}, left,
			"unprocessable ones wait for a person, hub events are the jobs' records, young ones stay")
		require.EqualValues(t, 1, prune(5, delivery.StatusUnprocessable), "deliveries purge")
	})

	t.Run("NextPendingInArrivalOrder", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("first"), sample("second")})
		require.NoError(t, err)
		d, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "first", d.ID)
		require.Equal(t, []byte(`{"id":"first"}`), d.Body)
		require.Equal(t, t0, d.ReceivedAt)

		require.NoError(t, s.Process(ctx, d.Seq, func(*store.Tx) (delivery.Outcome, error) {
			return delivery.Outcome{Status: delivery.StatusIgnored, Reason: "because"}, nil
		}))
		d, ok, err = s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "second", d.ID)

		got, err := s.Delivery(ctx, incident.SourcePagerDuty, "first")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusIgnored, got.Status)
		require.Equal(t, "because", got.Reason)
		require.False(t, got.ProcessedAt.IsZero())
	})

	t.Run("ProcessRollsBackOnError", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("d")})
		require.NoError(t, err)
		d, _, err := s.NextPending(ctx)
		require.NoError(t, err)
		boom := errors.New("boom")
		err = s.Process(ctx, d.Seq, func(tx *store.Tx) (delivery.Outcome, error) {
			require.NoError(t, tx.SaveRecord(context.Background(), record("payments", "P1"), nil))
			return delivery.Outcome{}, boom
		})
		require.ErrorIs(t, err, boom)
		recs, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Empty(t, recs, "nothing of a failed processing is kept")
		again, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, d.Seq, again.Seq, "the delivery stays pending")
	})

	t.Run("ProcessClaimsTheDeliveryOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("claimed")})
		require.NoError(t, err)
		d, _, err := s.NextPending(ctx)
		require.NoError(t, err)
		// Two processors took the same pending delivery. The second starts
		// while the first is inside its transaction: it waits, then finds
		// the delivery processed and applies nothing.
		var applied atomic.Int32
		entered := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.Process(ctx, d.Seq, func(tx *store.Tx) (delivery.Outcome, error) {
				applied.Add(1)
				close(entered)
				time.Sleep(100 * time.Millisecond)
				return delivery.Outcome{Status: delivery.StatusProcessed}, tx.SaveRecord(ctx, record("payments", "P1"), nil)
			})
		}()
		<-entered
		second := s.Process(ctx, d.Seq, func(tx *store.Tx) (delivery.Outcome, error) {
			applied.Add(1)
			return delivery.Outcome{Status: delivery.StatusProcessed}, tx.SaveRecord(ctx, record("payments", "P2"), nil)
		})
		require.NoError(t, <-first)
		require.ErrorIs(t, second, store.ErrNotPending)
		require.Equal(t, int32(1), applied.Load(), "applied once")
		recs, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Len(t, recs, 1)
	})

	t.Run("LeaseIsHeldByOneAtATime", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := s.Lease("processing", 30*time.Second), s.Lease("processing", 30*time.Second)
		other := s.Lease("sweeper", 30*time.Second)
		t.Cleanup(func() { a.Release(); b.Release(); other.Release() })
		held := func(l *store.Lease) bool {
			ok, err := l.Held(ctx)
			require.NoError(t, err)
			return ok
		}
		require.True(t, held(a))
		require.True(t, held(a), "held again")
		require.True(t, held(other), "another work's lease is its own")
		if s.Driver() == config.DriverSQLite {
			require.True(t, held(b), "SQLite's database is one process's: always held")
			return
		}
		require.False(t, held(b), "one holder at a time")
		a.Release()
		require.Eventually(t, func() bool { return held(b) }, 2*time.Second, 20*time.Millisecond, "taken over once released")
		time.Sleep(300 * time.Millisecond)
		require.False(t, held(a), "b holds it now")
	})

	t.Run("ExclusivelyRunsOneAtATime", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var inside, most atomic.Int32
		done := make(chan error, 4)
		for range 4 {
			go func() {
				done <- s.Exclusively(ctx, "review-doc:INC-1", func(context.Context) error {
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(20 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
			}()
		}
		for range 4 {
			require.NoError(t, <-done)
		}
		if s.Driver() == config.DriverPostgres {
			require.Equal(t, int32(1), most.Load(), "never two at once")
		}
	})

	t.Run("ProcessBatchInOrderAllOrNothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("b1"), sample("b2"), sample("b3")})
		require.NoError(t, err)
		boom := errors.New("boom")
		_, err = s.ProcessBatch(ctx, 10, func(tx *store.Tx, d delivery.Delivery) (delivery.Outcome, error) {
			require.NoError(t, tx.SaveRecord(ctx, record("payments", d.ID), nil))
			if d.ID == "b2" {
				return delivery.Outcome{}, boom
			}
			return delivery.Outcome{Status: delivery.StatusProcessed}, nil
		})
		require.ErrorIs(t, err, boom)
		recs, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Empty(t, recs, "nothing of a failed batch is kept")

		var seen []string
		outcomes := map[string]delivery.Outcome{
			"b1": {Status: delivery.StatusProcessed},
			"b2": {Status: delivery.StatusDeferred, Reason: "waits for its page", Subject: "Q1"},
		}
		n, err := s.ProcessBatch(ctx, 2, func(tx *store.Tx, d delivery.Delivery) (delivery.Outcome, error) {
			seen = append(seen, d.ID)
			require.NotEmpty(t, d.Body)
			return outcomes[d.ID], nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, []string{"b1", "b2"}, seen, "oldest first, at most the limit")
		for id, want := range outcomes {
			got, err := s.Delivery(ctx, incident.SourcePagerDuty, id)
			require.NoError(t, err)
			require.Equal(t, want, delivery.Outcome{Status: got.Status, Reason: got.Reason, Subject: got.Subject}, id)
			require.False(t, got.ProcessedAt.IsZero(), id)
		}
		next, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "b3", next.ID)
	})

	t.Run("RecordFailureGivesUpAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("poison")})
		require.NoError(t, err)
		d, _, err := s.NextPending(ctx)
		require.NoError(t, err)
		for i := 1; i <= 3; i++ {
			failed, err := s.RecordFailure(ctx, d.Seq, "disk full", 3)
			require.NoError(t, err)
			require.Equal(t, i == 3, failed, "attempt %d", i)
		}
		got, err := s.Delivery(ctx, incident.SourcePagerDuty, "poison")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusFailed, got.Status)
		require.Equal(t, "disk full", got.Reason)

		require.NoError(t, s.Replay(ctx, incident.SourcePagerDuty, "poison"))
		got, err = s.Delivery(ctx, incident.SourcePagerDuty, "poison")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusPending, got.Status)
		require.Zero(t, got.Attempts)
		require.ErrorIs(t, s.Replay(ctx, incident.SourcePagerDuty, "nope"), store.ErrNotFound)
	})

	t.Run("SaveRecordAndReadBack", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		rec := record("payments", "P1", "P2")
		rec.Commander, rec.CommanderAt = "Ann", t0.Add(time.Minute)
		rec.Responders = []string{"Ann", "Bo"}
		rec.AcknowledgedAt = t0.Add(time.Minute)
		process(t, s, func(tx *store.Tx) error {
			return tx.SaveRecord(context.Background(), rec, []incident.TimelineEntry{
				entry("later", t0.Add(2*time.Minute)), entry("earlier", t0), entry("earlier", t0),
			})
		})
		require.Equal(t, int64(1), rec.ID)

		got, err := s.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Equal(t, rec.Pages, got.Pages)
		require.Equal(t, rec.Responders, got.Responders)
		require.Equal(t, rec.CommanderAt, got.CommanderAt)
		require.Equal(t, rec.AcknowledgedAt, got.AcknowledgedAt)
		require.True(t, got.ResolvedAt.IsZero())
		require.Len(t, got.Timeline, 2, "an entry key is stored once")
		require.Equal(t, "earlier", got.Timeline[0].Key, "the timeline is in the order things happened")

		process(t, s, func(tx *store.Tx) error {
			owner, err := tx.RecordByPage(context.Background(), "P2")
			require.NoError(t, err)
			require.Equal(t, rec.ID, owner.ID)
			owner.Status = incident.StatusResolved
			owner.ResolvedAt = t0.Add(time.Hour)
			return tx.SaveRecord(context.Background(), owner, []incident.TimelineEntry{entry("later", t0.Add(time.Hour))})
		})
		got, err = s.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Equal(t, incident.StatusResolved, got.Status)
		require.Equal(t, t0.Add(time.Hour), got.ResolvedAt)
		require.Len(t, got.Timeline, 2, "the same key never appears twice")

		_, err = s.Incident(ctx, 99)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("ActiveRecordsAndEvents", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		open1, resolved, closed := record("payments", "A"), record("payments", "B"), record("payments", "D")
		resolved.Status, resolved.ResolvedAt = incident.StatusResolved, t0.Add(30*time.Second)
		closed.Status, closed.ResolvedAt = incident.StatusClosed, t0.Add(30*time.Second)
		announced := record("payments")
		announced.Kind, announced.OpenedAt = incident.KindAwareness, t0.Add(-3*time.Hour)
		announcedNow := record("payments")
		announcedNow.Kind = incident.KindAwareness
		over := record("payments")
		over.Kind, over.OpenedAt, over.Status, over.ResolvedAt = incident.KindAwareness, t0.Add(-3*time.Hour), incident.StatusResolved, t0
		process(t, s, func(tx *store.Tx) error {
			for _, r := range []*incident.Record{open1, resolved, closed, record("checkout", "C"), announced, announcedNow, over} {
				require.NoError(t, tx.SaveRecord(context.Background(), r, nil))
			}
			active, err := tx.ActiveRecords(context.Background(), "payments", t0, t0)
			require.NoError(t, err)
			require.Equal(t, []int64{open1.ID, resolved.ID, announced.ID, announcedNow.ID}, ids(active),
				"resolved ones too (a storm's resolve may be decided first), never closed ones, an active announcement "+
					"from before the window, and one within it once")
			later, err := tx.ActiveRecords(context.Background(), "payments", t0.Add(time.Millisecond), t0.Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, []int64{announced.ID, announcedNow.ID}, ids(later), "records opened outside the range are not candidates")
			none, err := tx.RecordByPage(context.Background(), "unknown")
			require.NoError(t, err)
			require.Nil(t, none)

			fresh, err := tx.MarkEventSeen(context.Background(), incident.SourcePagerDuty, "ev1")
			require.NoError(t, err)
			require.True(t, fresh)
			fresh, err = tx.MarkEventSeen(context.Background(), incident.SourcePagerDuty, "ev1")
			require.NoError(t, err)
			require.False(t, fresh)
			require.NoError(t, tx.ForgetEvent(context.Background(), incident.SourcePagerDuty, "ev1"))
			fresh, err = tx.MarkEventSeen(context.Background(), incident.SourcePagerDuty, "ev1")
			require.NoError(t, err)
			require.True(t, fresh)
			return nil
		})
	})

	t.Run("RecordsOfService", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// The records a change at t0 may belong on, with a 2h lookback:
		// unresolved ones opened by t0+2h, and ones resolved since t0.
		open1, later, resolvedSince, resolvedBefore, elsewhere := record("payments"), record("payments"),
			record("payments"), record("payments"), record("checkout")
		later.OpenedAt = t0.Add(3 * time.Hour)
		resolvedSince.Status, resolvedSince.OpenedAt, resolvedSince.ResolvedAt = incident.StatusResolved, t0.Add(-time.Hour), t0.Add(time.Minute)
		resolvedBefore.Status, resolvedBefore.OpenedAt, resolvedBefore.ResolvedAt = incident.StatusClosed, t0.Add(-time.Hour), t0.Add(-time.Minute)
		process(t, s, func(tx *store.Tx) error {
			for _, r := range []*incident.Record{open1, later, resolvedSince, resolvedBefore, elsewhere} {
				require.NoError(t, tx.SaveRecord(context.Background(), r, nil))
			}
			recs, err := tx.RecordsOfService(context.Background(), "payments", t0.Add(2*time.Hour), t0)
			require.NoError(t, err)
			require.Equal(t, []int64{open1.ID, resolvedSince.ID}, ids(recs))
			return nil
		})
	})

	t.Run("ChangesAttachAndDetach", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		rec := record("payments", "A")
		deploy := &incident.Change{Key: "github:deployment:acme/payments:1", Service: "payments", Kind: incident.ChangeDeploy,
			Repo: "acme/payments", At: t0.Add(time.Minute)}
		e := incident.TimelineEntry{At: deploy.At, Source: "github", Kind: incident.EntryChange, Key: "change:" + deploy.Key, Summary: "Deploy"}
		process(t, s, func(tx *store.Tx) error {
			require.NoError(t, tx.SaveRecord(ctx, rec, []incident.TimelineEntry{entry("k1", t0)}))
			require.NoError(t, tx.SaveChange(ctx, deploy))
			require.NoError(t, tx.AttachChange(ctx, rec.ID, deploy.Key, e))
			require.NoError(t, tx.AttachChange(ctx, rec.ID, deploy.Key, e), "attached once however often")
			attached, err := tx.AttachedChanges(ctx, rec.ID)
			require.NoError(t, err)
			require.Len(t, attached, 1)
			other := record("payments", "B")
			require.NoError(t, tx.SaveRecord(ctx, other, nil))
			holding, err := tx.RecordsWithChange(ctx, deploy.Key)
			require.NoError(t, err)
			require.Len(t, holding, 1)
			require.Equal(t, rec.ID, holding[0].ID)
			require.Equal(t, []string{"A"}, pageIDs(holding[0].Pages))
			return nil
		})
		got, err := s.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Len(t, got.Timeline, 2)
		process(t, s, func(tx *store.Tx) error {
			require.NoError(t, tx.DetachChange(ctx, rec.ID, deploy.Key, e.Key))
			attached, err := tx.AttachedChanges(ctx, rec.ID)
			require.NoError(t, err)
			require.Empty(t, attached)
			holding, err := tx.RecordsWithChange(ctx, deploy.Key)
			require.NoError(t, err)
			require.Empty(t, holding)
			return nil
		})
		got, err = s.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Len(t, got.Timeline, 1, "the change's entry goes with it, the rest stays")
		require.Equal(t, "k1", got.Timeline[0].Key)
	})

	t.Run("PagesKeptAcrossTransactionsAreCurrent", func(t *testing.T) {
		t.Parallel()
		// Two replicas on one database, deciding in turn as the
		// processing lease hands over: each keeps the pages of the
		// transactions it ran, and must not use them once the other has
		// changed the record, or after a transaction of its own failed.
		stores := Replicas(t, driver, 2)
		a, b := stores[0], stores[1]
		rec := record("payments", "P1", "P2")
		process(t, a, func(tx *store.Tx) error { return tx.SaveRecord(ctx, rec, nil) })
		status := func(s *store.Store, page string) incident.PageStatus {
			var got incident.Page
			process(t, s, func(tx *store.Tx) error {
				r, err := tx.RecordByID(ctx, rec.ID)
				require.NoError(t, err)
				got, _ = r.Page(page)
				return nil
			})
			return got.Status
		}
		edit := func(s *store.Store, page string, to incident.PageStatus, fail error) error {
			return tryProcess(t, s, func(tx *store.Tx) error {
				r, err := tx.RecordByPage(ctx, page)
				require.NoError(t, err)
				p, _ := r.EditPage(page)
				p.Status = to
				require.NoError(t, tx.SaveRecord(ctx, r, nil))
				return fail
			})
		}
		require.Equal(t, incident.PageTriggered, status(a, "P1"))

		require.NoError(t, edit(b, "P1", incident.PageAcknowledged, nil))
		require.Equal(t, incident.PageAcknowledged, status(a, "P1"), "the other replica's save is read")

		require.NoError(t, edit(a, "P2", incident.PageResolved, nil))
		require.Equal(t, incident.PageResolved, status(b, "P2"))
		require.Equal(t, incident.PageAcknowledged, status(b, "P1"))

		failed := errors.New("decided wrong")
		require.ErrorIs(t, edit(a, "P1", incident.PageResolved, failed), failed)
		require.Equal(t, incident.PageAcknowledged, status(a, "P1"), "a transaction that failed leaves nothing behind")

		got, err := a.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Equal(t, []incident.PageStatus{incident.PageAcknowledged, incident.PageResolved},
			[]incident.PageStatus{got.Pages[0].Status, got.Pages[1].Status})
	})

	t.Run("PagesOfASaveThatShowsFewerAreReadAgain", func(t *testing.T) {
		t.Parallel()
		// A save writes pages and never deletes rows: a record saved
		// without being read first, or without a page it was read with,
		// leaves rows it does not show. What the store keeps of its pages
		// must not hide them from the transactions after it.
		s := open(t)
		rec := record("payments", "P1", "P2", "P3")
		process(t, s, func(tx *store.Tx) error { return tx.SaveRecord(ctx, rec, nil) })
		pagesRead := func() []string {
			var ids []string
			process(t, s, func(tx *store.Tx) error {
				r, err := tx.RecordByID(ctx, rec.ID)
				require.NoError(t, err)
				ids = pageIDs(r.Pages)
				return nil
			})
			return ids
		}
		require.Equal(t, []string{"P1", "P2", "P3"}, pagesRead())

		unread := record("payments", "P1", "P2")
		unread.ID = rec.ID
		process(t, s, func(tx *store.Tx) error { return tx.SaveRecord(ctx, unread, nil) })
		require.Equal(t, []string{"P1", "P2", "P3"}, pagesRead(), "saved without being read")

		process(t, s, func(tx *store.Tx) error {
			r, err := tx.RecordByID(ctx, rec.ID)
			require.NoError(t, err)
			r.Pages = r.Pages[1:]
			require.NoError(t, tx.SaveRecord(ctx, r, nil))
			again, err := tx.RecordByID(ctx, rec.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"P1", "P2", "P3"}, pageIDs(again.Pages), "the same transaction reads the rows")
			return nil
		})
		require.Equal(t, []string{"P1", "P2", "P3"}, pagesRead(), "saved without a page it was read with")
	})

	t.Run("PagesSavedAsTheyChange", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		rec := record("payments", "P1", "P2", "P3")
		process(t, s, func(tx *store.Tx) error { return tx.SaveRecord(ctx, rec, nil) })

		// As a batch decides a storm: the record is read, changed and
		// saved again in one transaction, and each read sees the last save.
		process(t, s, func(tx *store.Tx) error {
			got, err := tx.RecordByPage(ctx, "P2")
			require.NoError(t, err)
			p2, ok := got.EditPage("P2")
			require.True(t, ok)
			p2.Status, p2.Assignees = incident.PageAcknowledged, []string{"Ann"}
			require.NoError(t, tx.SaveRecord(ctx, got, nil))
			p2, _ = got.EditPage("P2")
			p2.Status = incident.PageResolved
			got.Pages = append(got.Pages, &incident.Page{ID: "P9"})

			again, err := tx.RecordByID(ctx, rec.ID)
			require.NoError(t, err)
			require.Equal(t, incident.PageAcknowledged, again.Pages[1].Status, "a page edited after its save is the editor's own")
			require.Len(t, again.Pages, 3, "a record read shares no list of pages with one saved")
			again.Pages = append(again.Pages, &incident.Page{ID: "P4", Status: incident.PageTriggered, TriggeredAt: t0, SnapshotAt: t0})
			p1, _ := again.EditPage("P1")
			p1.Status, p1.ResolvedAt = incident.PageResolved, t0.Add(time.Hour)
			require.NoError(t, tx.SaveRecord(ctx, again, nil))

			owner, err := tx.RecordByPage(ctx, "P4")
			require.NoError(t, err)
			require.Equal(t, rec.ID, owner.ID, "a page added in the transaction is indexed in it")
			return nil
		})

		got, err := s.Incident(ctx, rec.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"P1", "P2", "P3", "P4"}, pageIDs(got.Pages), "pages keep the order they joined in")
		require.Equal(t, incident.PageResolved, got.Pages[0].Status)
		require.Equal(t, t0.Add(time.Hour), got.Pages[0].ResolvedAt)
		require.Equal(t, []string{"Ann"}, got.Pages[1].Assignees)
		require.Equal(t, incident.PageTriggered, got.Pages[2].Status)

		listed, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, got.Pages, listed[0].Pages)

		// A page another record holds stays with it.
		other := record("payments", "P3", "Q1")
		process(t, s, func(tx *store.Tx) error {
			require.NoError(t, tx.SaveRecord(ctx, other, nil))
			owner, err := tx.RecordByPage(ctx, "P3")
			require.NoError(t, err)
			require.Equal(t, rec.ID, owner.ID)
			second, err := tx.RecordByID(ctx, other.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"Q1"}, pageIDs(second.Pages), "the transaction reads what is stored")
			return nil
		})
	})

	t.Run("DeferredDeliveryWakesWhenItsPageIsKnown", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("note")})
		require.NoError(t, err)
		d, _, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Process(ctx, d.Seq, func(*store.Tx) (delivery.Outcome, error) {
			return delivery.Outcome{Status: delivery.StatusDeferred, Reason: "waiting", Subject: "PAGE"}, nil
		}))
		_, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		process(t, s, func(tx *store.Tx) error { return tx.SaveRecord(context.Background(), record("payments", "PAGE"), nil) })
		woken, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "note", woken.ID)
	})

	// Pseudonyms are kept: each export sees those given before and adds
	// its own. One whose numbers another export took meanwhile numbers
	// again on what is there now.
	t.Run("KeepPseudonyms", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var seen []map[string]int
		for _, add := range []map[string]int{{"ana ortiz": 1, "aortiz": 1, "bo": 2}, {"cy": 3}, {}} {
			require.NoError(t, s.KeepPseudonyms(ctx, func(given map[string]int) map[string]int {
				seen = append(seen, given)
				return add
			}))
		}
		require.Equal(t, []map[string]int{{}, {"ana ortiz": 1, "aortiz": 1, "bo": 2}, {"ana ortiz": 1, "aortiz": 1, "bo": 2, "cy": 3}}, seen)

		calls := 0
		require.NoError(t, s.KeepPseudonyms(ctx, func(given map[string]int) map[string]int {
			calls++
			if calls == 1 {
				require.NoError(t, s.KeepPseudonyms(ctx, func(map[string]int) map[string]int { return map[string]int{"dee": 4} }))
				return map[string]int{"eve": 4} // Dee's number, had it been kept
			}
			require.Equal(t, 4, given["dee"])
			return map[string]int{"eve": 5}
		}))
		require.NoError(t, s.KeepPseudonyms(ctx, func(given map[string]int) map[string]int {
			require.Equal(t, 4, given["dee"])
			require.Equal(t, 5, given["eve"])
			return nil
		}))
	})

	// Deferred, then its page recorded by a later delivery of the same
	// batch: it is pending again when the batch commits.
	t.Run("DeferredDeliveryWakesInItsOwnBatch", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{sample("note"), sample("trigger"), sample("other")})
		require.NoError(t, err)
		n, err := s.ProcessBatch(ctx, 10, func(tx *store.Tx, d delivery.Delivery) (delivery.Outcome, error) {
			switch d.ID {
			case "note":
				return delivery.Outcome{Status: delivery.StatusDeferred, Reason: "waiting", Subject: "PAGE"}, nil
			case "trigger":
				require.NoError(t, tx.SaveRecord(ctx, record("payments", "PAGE"), nil))
			default:
				return delivery.Outcome{Status: delivery.StatusDeferred, Reason: "waiting", Subject: "ELSEWHERE"}, nil
			}
			return delivery.Outcome{Status: delivery.StatusProcessed}, nil
		})
		require.NoError(t, err)
		require.Equal(t, 3, n)
		woken, ok, err := s.NextPending(ctx)
		require.NoError(t, err)
		require.True(t, ok, "the note waits no more")
		require.Equal(t, "note", woken.ID)
		other, err := s.Delivery(ctx, incident.SourcePagerDuty, "other")
		require.NoError(t, err)
		require.Equal(t, delivery.StatusDeferred, other.Status, "a delivery waiting for another page waits on")
	})

	t.Run("IncidentsFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		process(t, s, func(tx *store.Tx) error {
			for i := range 5 {
				r := record("payments", fmt.Sprintf("P%d", i))
				if i%2 == 1 {
					r.Service, r.Severity = "checkout", "SEV1"
				}
				require.NoError(t, tx.SaveRecord(context.Background(), r, nil))
			}
			return nil
		})
		all, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Equal(t, []int64{5, 4, 3, 2, 1}, ids(all), "newest first")
		page, err := s.Incidents(ctx, store.IncidentFilter{Before: 4, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []int64{3, 2}, ids(page))
		bySvc, err := s.Incidents(ctx, store.IncidentFilter{Service: "checkout"})
		require.NoError(t, err)
		require.Equal(t, []int64{4, 2}, ids(bySvc))
		bySev, err := s.Incidents(ctx, store.IncidentFilter{Severity: "SEV2", Status: incident.StatusOpen})
		require.NoError(t, err)
		require.Equal(t, []int64{5, 3, 1}, ids(bySev))
	})

	t.Run("FollowUps", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var pay, chk *incident.Record
		followUp := func(rec *incident.Record, key string, status incident.FollowUpStatus, age time.Duration) *incident.FollowUp {
			return &incident.FollowUp{IncidentID: rec.ID, Key: key, Title: "do " + key, Status: status, RequestedAt: t0.Add(-age)}
		}
		process(t, s, func(tx *store.Tx) error {
			pay, chk = record("payments", "P1"), record("checkout", "P2")
			require.NoError(t, tx.SaveRecord(context.Background(), pay, nil))
			require.NoError(t, tx.SaveRecord(context.Background(), chk, nil))
			require.NoError(t, tx.SaveFollowUp(context.Background(), followUp(pay, "a", incident.FollowUpOpen, 40*24*time.Hour)))
			require.NoError(t, tx.SaveFollowUp(context.Background(), followUp(pay, "b", incident.FollowUpDone, 50*24*time.Hour)))
			require.NoError(t, tx.SaveFollowUp(context.Background(), followUp(chk, "c", incident.FollowUpInProgress, time.Hour)))
			return nil
		})
		process(t, s, func(tx *store.Tx) error {
			f, err := tx.FollowUpByKey(context.Background(), "a")
			require.NoError(t, err)
			f.JiraID, f.JiraKey, f.JiraStatus = "10001", "PAY-1", "To Do"
			require.NoError(t, tx.SaveFollowUp(context.Background(), f), "an update by key")
			byTicket, err := tx.FollowUpByTicket(context.Background(), "10001")
			require.NoError(t, err)
			require.Equal(t, "PAY-1", byTicket.JiraKey)
			none, err := tx.FollowUpByTicket(context.Background(), "nope")
			require.NoError(t, err)
			require.Nil(t, none)
			return nil
		})
		err := tryProcess(t, s, func(tx *store.Tx) error {
			other, err := tx.FollowUpByKey(context.Background(), "c")
			require.NoError(t, err)
			other.JiraID = "10001"
			return tx.SaveFollowUp(context.Background(), other)
		})
		require.Error(t, err, "one follow-up per ticket")
		require.True(t, store.Permanent(err), "a broken constraint is not cured by retrying: %v", err)
		process(t, s, func(tx *store.Tx) error {
			require.NoError(t, tx.SaveFollowUp(context.Background(), followUp(pay, "withdrawn", incident.FollowUpOpen, 0)))
			require.NoError(t, tx.WithdrawFollowUp(context.Background(), "withdrawn"))
			require.NoError(t, tx.WithdrawFollowUp(context.Background(), "a"), "a filed follow-up is never withdrawn")
			_, err := tx.FollowUpByKey(context.Background(), "withdrawn")
			require.ErrorIs(t, err, store.ErrNotFound)
			return nil
		})
		keys := func(f store.FollowUpFilter) []string {
			fs, err := s.FollowUps(ctx, f)
			require.NoError(t, err)
			var out []string
			for _, f := range fs {
				out = append(out, f.Key)
			}
			return out
		}
		require.Equal(t, []string{"b", "a", "c"}, keys(store.FollowUpFilter{}), "longest waiting first")
		require.Equal(t, []string{"a", "c"}, keys(store.FollowUpFilter{Open: true}))
		require.Equal(t, []string{"c"}, keys(store.FollowUpFilter{Service: "checkout"}))
		require.Equal(t, []string{"a"}, keys(store.FollowUpFilter{Open: true, RequestedBefore: t0.Add(-30 * 24 * time.Hour)}))

		rec, err := s.Incident(ctx, pay.ID)
		require.NoError(t, err)
		require.Len(t, rec.FollowUps, 2)
		require.Equal(t, "PAY-1", rec.FollowUps[0].JiraKey)
		listed, err := s.Incidents(ctx, store.IncidentFilter{})
		require.NoError(t, err)
		require.Len(t, listed[0].FollowUps, 1, "lists carry follow-ups too, for their counts")
		require.Len(t, listed[1].FollowUps, 2)
	})
}

func ids(recs []incident.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
