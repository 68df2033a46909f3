package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// A record's pages are rows of incident_pages, each with its own state,
// rather than part of the record's state: a storm is one record with
// thousands of pages, and a delivery changes one of them. Writing the
// record's pages whole for each delivery made a storm quadratic
// (docs/performance.md); now a save writes the pages that changed.
//
// Records saved before migration 4 keep their pages in their state until
// they are next saved, which moves them here.

// storedPages are a record's pages as its transaction last read or wrote
// them.
type storedPages struct {
	pages []incident.Page
	// inTable: the pages are rows of incident_pages. False for a record
	// saved before migration 4, whose next save writes them all.
	inTable bool
}

// withPages gives records read in the transaction their pages: a record
// the transaction read or saved before is not read again (a storm's
// record is read for each of its deliveries in a batch).
func (t *Tx) withPages(ctx context.Context, recs []incident.Record) error {
	var unread []int64
	for i := range recs {
		r := &recs[i]
		switch sp, ok := t.stored[r.ID]; {
		case len(r.Pages) > 0: // saved before migration 4
			t.remember(r.ID, storedPages{pages: clonePages(r.Pages)})
		case ok:
			r.Pages = clonePages(sp.pages)
		default:
			unread = append(unread, r.ID)
		}
	}
	if len(unread) == 0 {
		return nil
	}
	pages, err := readPages(ctx, t, unread)
	if err != nil {
		return err
	}
	for _, id := range unread {
		t.remember(id, storedPages{pages: pages[id], inTable: true})
	}
	for i := range recs {
		if ps, ok := pages[recs[i].ID]; ok && len(recs[i].Pages) == 0 {
			recs[i].Pages = clonePages(ps)
		}
	}
	return nil
}

// remember notes a record's pages as stored, and which record holds each.
func (t *Tx) remember(recordID int64, sp storedPages) {
	if t.stored == nil {
		t.stored = map[int64]storedPages{}
		t.indexed = map[string]int64{}
	}
	t.stored[recordID] = sp
	for _, p := range sp.pages {
		t.indexed[p.ID] = recordID
	}
}

// savePages writes the record's pages that differ from what the
// transaction knows is stored, and wakes the deliveries that were
// deferred until a newly indexed page was known.
func (t *Tx) savePages(ctx context.Context, rec *incident.Record) error {
	prev := t.stored[rec.ID]
	var changed []int
	for i := range rec.Pages {
		if prev.inTable && i < len(prev.pages) && samePage(&prev.pages[i], &rec.Pages[i]) {
			continue
		}
		changed = append(changed, i)
	}
	var (
		fresh   []any
		written = map[string]bool{}
	)
	for chunk := range slices.Chunk(changed, maxRowsPerInsert) {
		ids, err := t.upsertPages(ctx, rec, chunk)
		if err != nil {
			return err
		}
		for _, id := range ids {
			written[id] = true
			if owner, known := t.indexed[id]; !known || owner != rec.ID {
				fresh = append(fresh, id)
			}
		}
	}
	// A page another record holds was not written (the router never puts
	// a page in two records; records saved before the pages had rows of
	// their own could): the transaction remembers what is stored, so that
	// its reads agree with the database.
	stored := clonePages(rec.Pages)
	if len(written) < len(changed) {
		skipped := map[string]bool{}
		for _, i := range changed {
			if id := rec.Pages[i].ID; !written[id] {
				skipped[id] = true
			}
		}
		stored = slices.DeleteFunc(stored, func(p incident.Page) bool { return skipped[p.ID] })
	}
	t.remember(rec.ID, storedPages{pages: stored, inTable: true})
	if len(fresh) == 0 {
		return nil
	}
	marks := make([]string, len(fresh))
	for i := range fresh {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', reason = ''
		WHERE status = 'deferred' AND subject IN (`+strings.Join(marks, ", ")+`)`, fresh...); err != nil {
		return fmt.Errorf("wake deliveries for %s's pages: %w", rec.Ref(), err)
	}
	return nil
}

// upsertPages writes the pages at the given places in one statement, and
// returns the ids of those written. A page another record holds is left
// to it, as it always was.
func (t *Tx) upsertPages(ctx context.Context, rec *incident.Record, at []int) ([]string, error) {
	var (
		q    strings.Builder
		args = make([]any, 0, 4*len(at))
	)
	q.WriteString(`INSERT INTO incident_pages (page_id, incident_id, ordinal, state) VALUES `)
	for n, i := range at {
		state, err := json.Marshal(rec.Pages[i])
		if err != nil {
			return nil, fmt.Errorf("save %s pages: %w", rec.Ref(), err)
		}
		if n > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d)", len(args)+1, len(args)+2, len(args)+3, len(args)+4)
		args = append(args, rec.Pages[i].ID, rec.ID, i, string(state))
	}
	q.WriteString(` ON CONFLICT (page_id) DO UPDATE SET ordinal = excluded.ordinal, state = excluded.state
		WHERE incident_pages.incident_id = excluded.incident_id RETURNING page_id`)
	// One page, the usual case, is always the same statement: prepared
	// once. More vary, and would fill the statement cache.
	query := t.tx.QueryContext
	if len(at) == 1 {
		query = t.QueryContext
	}
	rows, err := query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("save %s pages: %w", rec.Ref(), err)
	}
	var written []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("save %s pages: %w", rec.Ref(), err)
		}
		written = append(written, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("save %s pages: %w", rec.Ref(), err)
	}
	return written, nil
}

// fillPages gives records read outside a transaction that decides their
// pages, in one query.
func fillPages(ctx context.Context, q querier, recs []incident.Record) error {
	var unread []int64
	for _, r := range recs {
		if len(r.Pages) == 0 {
			unread = append(unread, r.ID)
		}
	}
	pages, err := readPages(ctx, q, unread)
	if err != nil {
		return err
	}
	for i := range recs {
		if ps, ok := pages[recs[i].ID]; ok {
			recs[i].Pages = ps
		}
	}
	return nil
}

// readPages reads the pages of records, in the order they joined.
func readPages(ctx context.Context, q querier, recordIDs []int64) (map[int64][]incident.Page, error) {
	out := map[int64][]incident.Page{}
	for ids := range slices.Chunk(recordIDs, maxRowsPerInsert) {
		query := `SELECT incident_id, state FROM incident_pages
			WHERE incident_id = $1 AND state IS NOT NULL ORDER BY incident_id, ordinal`
		args := []any{ids[0]}
		if len(ids) > 1 {
			marks := make([]string, len(ids))
			args = make([]any, len(ids))
			for i, id := range ids {
				marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
			}
			query = `SELECT incident_id, state FROM incident_pages
				WHERE incident_id IN (` + strings.Join(marks, ", ") + `) AND state IS NOT NULL ORDER BY incident_id, ordinal`
		}
		if err := scanPages(ctx, q, out, query, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scanPages(ctx context.Context, q querier, into map[int64][]incident.Page, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read pages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			state []byte
			p     incident.Page
		)
		if err := rows.Scan(&id, &state); err != nil {
			return fmt.Errorf("read pages: %w", err)
		}
		if err := json.Unmarshal(state, &p); err != nil {
			return fmt.Errorf("%s page state: %w", incident.FormatRef(id), err)
		}
		into[id] = append(into[id], p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read pages: %w", err)
	}
	return nil
}

// clonePages copies pages, so that a record read and the transaction's
// memory of it share nothing the router may change (a page's assignees
// are replaced whole, never changed in place).
func clonePages(ps []incident.Page) []incident.Page {
	return slices.Clone(ps)
}

// samePage reports whether saving b over a would change nothing.
func samePage(a, b *incident.Page) bool {
	return a.ID == b.ID && a.Number == b.Number && a.Title == b.Title && a.URL == b.URL &&
		a.ServiceID == b.ServiceID && a.ServiceName == b.ServiceName && a.Status == b.Status &&
		a.Urgency == b.Urgency && a.Priority == b.Priority && a.Severity == b.Severity &&
		slices.Equal(a.Assignees, b.Assignees) && a.TriggeredAt.Equal(b.TriggeredAt) &&
		a.ResolvedAt.Equal(b.ResolvedAt) && a.SnapshotAt.Equal(b.SnapshotAt)
}
