package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

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
	pages []*incident.Page
	// inTable: the pages are rows of incident_pages. False for a record
	// saved before migration 4, whose next save writes them all.
	inTable bool
}

// withPages gives records read in the transaction their pages: a record
// the transaction read or saved before is not read again (a storm's
// record is read for each of its deliveries in a batch), nor one whose
// pages an earlier transaction left at the revision the record names.
func (t *Tx) withPages(ctx context.Context, recs []incident.Record) error {
	var unread []int64
	for i := range recs {
		r := &recs[i]
		sp, ok := t.stored[r.ID]
		if !ok && len(r.Pages) == 0 {
			sp.pages, ok = t.pages.get(r.ID, t.revs[r.ID])
			sp.inTable = ok
			if ok {
				t.remember(r.ID, sp)
			}
		}
		switch {
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
	t.keep(recordID, sp)
	t.index(recordID, sp.pages)
}

// keep notes a record's pages as stored.
func (t *Tx) keep(recordID int64, sp storedPages) {
	if t.stored == nil {
		t.stored = map[int64]storedPages{}
	}
	t.stored[recordID] = sp
}

// index notes which record holds each of the pages.
func (t *Tx) index(recordID int64, pages []*incident.Page) {
	if t.indexed == nil {
		t.indexed = map[string]int64{}
	}
	for _, p := range pages {
		t.indexed[p.ID] = recordID
	}
}

// noteRev notes the revision of a record's pages as read.
func (t *Tx) noteRev(recordID int64, rev uint64) {
	if t.revs == nil {
		t.revs = map[int64]uint64{}
	}
	t.revs[recordID] = rev
}

// pagesToSave is what saving a record writes of its pages.
type pagesToSave struct {
	// changed are the places of the pages that differ from what the
	// transaction knows is stored.
	changed []int
	// rev is the revision of the record's pages once saved: a new one
	// when any changed.
	rev uint64
	// whole: once saved, the record's rows are its pages and no more. A
	// save never deletes rows, so a record saved without being read in
	// the transaction, or without a page it was read with, may leave
	// rows it does not show; the transaction then reads them again
	// rather than trusting its copy, and keeps it for no other.
	whole bool
}

// pagesToSave compares the record's pages with what the transaction knows
// is stored.
func (t *Tx) pagesToSave(rec *incident.Record) pagesToSave {
	prev, known := t.stored[rec.ID]
	s := pagesToSave{whole: rec.ID == 0 || known && len(rec.Pages) >= len(prev.pages)}
	for i, p := range rec.Pages {
		if i < len(prev.pages) && prev.pages[i] != p && prev.pages[i].ID != p.ID {
			s.whole = false
		}
		// A page the router did not edit is the one stored (pages are
		// never changed in place): most of a storm's, found without
		// comparing their fields.
		if prev.inTable && i < len(prev.pages) && (prev.pages[i] == p || samePage(prev.pages[i], p)) {
			continue
		}
		s.changed = append(s.changed, i)
	}
	s.rev = t.revs[rec.ID]
	if len(s.changed) > 0 || s.rev == 0 || !s.whole {
		s.rev = newPagesRev()
	}
	return s
}

// newPagesRev draws a revision for a record's pages: random rather than
// counted, so that two replicas that each saved the record once never
// name different pages the same. 53 bits, so that a JSON reader other
// than Go's (jq, JavaScript) reads the state's number exactly.
func newPagesRev() uint64 {
	for {
		if rev := rand.Uint64() >> 11; rev != 0 {
			return rev
		}
	}
}

// savePages writes the record's pages at the places pagesToSave found,
// and wakes the deliveries that were deferred until a newly indexed page
// was known.
func (t *Tx) savePages(ctx context.Context, rec *incident.Record, save pagesToSave) error {
	t.noteRev(rec.ID, save.rev)
	changed := save.changed
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
		stored = slices.DeleteFunc(stored, func(p *incident.Page) bool { return skipped[p.ID] })
	}
	if save.whole {
		// The pages it did not change are those the transaction had
		// stored and indexed already, and those it skipped another record
		// holds: only those it wrote are indexed again, so that saving a
		// storm's record indexes its one changed page, not its thousands.
		t.keep(rec.ID, storedPages{pages: stored, inTable: true})
		var saved []*incident.Page
		for _, i := range changed {
			if written[rec.Pages[i].ID] {
				saved = append(saved, rec.Pages[i])
			}
		}
		t.index(rec.ID, saved)
	} else {
		// Rows it does not show may remain: its list is read again.
		delete(t.stored, rec.ID)
		t.index(rec.ID, stored)
	}
	if len(fresh) == 0 {
		return nil
	}
	t.woken = append(t.woken, fresh...)
	return nil
}

// wake makes pending again the deliveries deferred until a page this
// transaction indexed, in one statement as it commits: nothing in the
// transaction reads a delivery's status, and on PostgreSQL this is one
// round trip a batch rather than one a page. It runs after the batch's
// outcomes are written, so a delivery of the batch deferred until a page
// a later one indexed is woken too. A chunk at a time keeps the statement
// within both databases' limits on values.
func (t *Tx) wake(ctx context.Context) error {
	for chunk := range slices.Chunk(t.woken, maxRowsPerInsert) {
		marks := make([]string, len(chunk))
		for i := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+1)
		}
		if _, err := t.tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', reason = ''
			WHERE status = 'deferred' AND subject IN (`+strings.Join(marks, ", ")+`)`, chunk...); err != nil {
			return fmt.Errorf("wake the deliveries deferred until %d pages: %w", len(t.woken), err)
		}
	}
	t.woken = nil
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
func readPages(ctx context.Context, q querier, recordIDs []int64) (map[int64][]*incident.Page, error) {
	out := map[int64][]*incident.Page{}
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

func scanPages(ctx context.Context, q querier, into map[int64][]*incident.Page, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read pages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			state []byte
			p     = new(incident.Page)
		)
		if err := rows.Scan(&id, &state); err != nil {
			return fmt.Errorf("read pages: %w", err)
		}
		if err := json.Unmarshal(state, p); err != nil {
			return fmt.Errorf("%s page state: %w", incident.FormatRef(id), err)
		}
		into[id] = append(into[id], p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read pages: %w", err)
	}
	return nil
}

// clonePages copies a record's list of pages, so that a record read and
// the transaction's memory of it can each gain pages without the other
// seeing them. The pages themselves are shared: they are never changed in
// place (incident.Record.EditPage).
func clonePages(ps []*incident.Page) []*incident.Page {
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

// pageCache keeps the pages of records that transactions read or wrote,
// by the revision the record's state names, for the transactions after
// them: a storm's record is read in every batch of its deliveries, and
// reading its thousands of pages again was most of a batch's work
// (docs/performance.md). A revision that differs (another replica saved
// the record, or a transaction that wrote it did not commit) is a miss.
//
// Pages are never changed in place, so the cache and the records read
// from it share them.
type pageCache struct {
	mu      sync.Mutex
	records map[int64]cachedPages
	// held counts the records and pages kept, bounded by limit.
	held, limit int
}

type cachedPages struct {
	rev   uint64
	pages []*incident.Page
}

// maxCachedPages bounds the pages kept across transactions (a record
// counts as one more): a few tens of MB for pages of usual size (a
// 2,000-page storm is about 1 MB).
const maxCachedPages = 50_000

func newPageCache(limit int) *pageCache {
	return &pageCache{records: map[int64]cachedPages{}, limit: limit}
}

// get returns the record's pages if the cache has them at rev.
func (c *pageCache) get(recordID int64, rev uint64) ([]*incident.Page, bool) {
	if c == nil || rev == 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.records[recordID]
	if !ok || cp.rev != rev {
		return nil, false
	}
	return cp.pages, true
}

// keep notes the pages a committed transaction read or wrote. Records
// whose pages are not yet rows of their own, or have no revision, are
// left out. When full, it forgets records at random (Go's map order):
// the storm being decided is read again at once and comes back.
func (c *pageCache) keep(stored map[int64]storedPages, revs map[int64]uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, sp := range stored {
		// A record without pages costs one query to read, as it would to
		// check: not worth a place.
		rev, size := revs[id], 1+len(sp.pages)
		if !sp.inTable || rev == 0 || len(sp.pages) == 0 || size > c.limit {
			continue
		}
		if old, ok := c.records[id]; ok {
			c.held -= 1 + len(old.pages)
			delete(c.records, id)
		}
		for other, cp := range c.records {
			if c.held+size <= c.limit {
				break
			}
			c.held -= 1 + len(cp.pages)
			delete(c.records, other)
		}
		c.records[id] = cachedPages{rev: rev, pages: sp.pages}
		c.held += size
	}
}
