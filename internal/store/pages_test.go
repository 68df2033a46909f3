package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// A record saved before migration 4 kept its pages in its own state, and
// incident_pages only said which record held each: it still reads whole,
// and its next save moves its pages to their rows.
func TestPagesOfARecordSavedBefore(t *testing.T) {
	ctx := context.Background()
	s, err := Open(config.Storage{Driver: config.DriverSQLite, DSN: "file:" + filepath.Join(t.TempDir(), "hub.db"), Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))

	at := time.Date(2026, 4, 1, 2, 7, 30, 0, time.UTC)
	_, err = s.write.ExecContext(ctx, `INSERT INTO incidents (id, title, status, kind, severity, service,
		correlation_key, commander, opened_at, updated_at, state)
		VALUES (1, 'Checkout latency', 'open', 'incident', 'SEV2', 'payments', 'payments', '', $1, $1,
		'{"pages":[{"id":"P1","title":"a","service_id":"S","status":"triggered","severity":"SEV2","triggered_at":"2026-04-01T02:07:30Z","snapshot_at":"2026-04-01T02:07:30Z"},{"id":"P2","title":"b","service_id":"S","status":"triggered","severity":"SEV2","triggered_at":"2026-04-01T02:07:30Z","snapshot_at":"2026-04-01T02:07:30Z"}]}');
		INSERT INTO incident_pages (page_id, incident_id) VALUES ('P1', 1), ('P2', 1)`, at.UnixMilli())
	require.NoError(t, err)

	got, err := s.Incident(ctx, 1)
	require.NoError(t, err)
	require.Len(t, got.Pages, 2)
	require.Equal(t, "b", got.Pages[1].Title)

	_, err = s.AppendDeliveries(ctx, []delivery.Delivery{{Source: incident.SourcePagerDuty, ID: "d", ReceivedAt: at, Body: []byte(`{}`)}})
	require.NoError(t, err)
	d, _, err := s.NextPending(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Process(ctx, d.Seq, func(tx *Tx) (delivery.Outcome, error) {
		rec, err := tx.RecordByPage(ctx, "P2")
		require.NoError(t, err)
		require.Len(t, rec.Pages, 2)
		p2, _ := rec.EditPage("P2")
		p2.Status = incident.PageAcknowledged
		return delivery.Outcome{Status: delivery.StatusProcessed}, tx.SaveRecord(ctx, rec, nil)
	}))

	var state string
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT state FROM incidents WHERE id = 1`).Scan(&state))
	require.NotContains(t, state, `"pages"`, "the save moved the pages out of the record's state")
	var rows int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM incident_pages WHERE incident_id = 1 AND state IS NOT NULL`).Scan(&rows))
	require.Equal(t, 2, rows)

	got, err = s.Incident(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, []incident.PageStatus{incident.PageTriggered, incident.PageAcknowledged},
		[]incident.PageStatus{got.Pages[0].Status, got.Pages[1].Status})
	require.Equal(t, "a", got.Pages[0].Title)
}

// samePage decides which pages a save writes: a field it missed would be
// lost whenever only that field changed.
func TestSamePageComparesEveryField(t *testing.T) {
	var base incident.Page
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Interface().(type) {
		case string, incident.PageStatus:
			f.SetString("x")
		case int:
			f.SetInt(1)
		case []string:
			f.Set(reflect.ValueOf([]string{"x"}))
		case time.Time:
			f.Set(reflect.ValueOf(time.Unix(1, 0)))
		default:
			t.Fatalf("samePage's test does not know how to change %s (%s): teach it, and samePage", typ.Field(i).Name, f.Type())
		}
		require.False(t, samePage(&base, &changed), "a change of %s", typ.Field(i).Name)
		require.True(t, samePage(&changed, &changed))
	}
}

// The cache holds at most its limit of records and pages, forgets records
// to make room, and keeps no record without pages.
func TestPageCacheBounded(t *testing.T) {
	t.Parallel()
	pages := func(n int) []*incident.Page {
		out := make([]*incident.Page, n)
		for i := range out {
			out[i] = &incident.Page{ID: "P" + string(rune('a'+i))}
		}
		return out
	}
	c := newPageCache(10)
	for id := int64(1); id <= 20; id++ {
		c.keep(map[int64]storedPages{id: {pages: pages(int(id % 4)), inTable: true}}, map[int64]uint64{id: uint64(id)})
		require.LessOrEqual(t, c.held, c.limit)
		held := 0
		for _, cp := range c.records {
			require.NotEmpty(t, cp.pages, "a record without pages is not kept")
			held += 1 + len(cp.pages)
		}
		require.Equal(t, held, c.held)
	}
	got, ok := c.get(19, 19)
	require.True(t, ok, "the newest record is kept")
	require.Len(t, got, 3)
	_, ok = c.get(19, 18)
	require.False(t, ok, "another revision is a miss")
	c.keep(map[int64]storedPages{30: {pages: pages(10), inTable: true}}, map[int64]uint64{30: 1})
	_, ok = c.get(30, 1)
	require.False(t, ok, "a record larger than the cache is not kept")
}
