package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Tx is the transaction in which one delivery is processed: what it reads
// and writes commits together with the delivery's outcome, so a crash at
// any point leaves either all of it or none (exactly once in effect).
//
// It keeps no context: every method takes the caller's, as I/O in Go does.
type Tx struct {
	tx    *sql.Tx
	stmts *stmtCache
	now   time.Time
	// stored are the pages of the records read or saved in this
	// transaction, as stored (pages.go), and indexed which record holds
	// each of them. The transaction has no savepoints, so nothing written
	// in it is undone while it lasts.
	stored  map[int64]storedPages
	indexed map[string]int64
	// revs are the revisions of the records' pages as read or written in
	// this transaction, and pages the store's pages from transactions
	// before (pages.go).
	revs  map[int64]uint64
	pages *pageCache
	// decoded are the states this transaction wrote, by record id; a
	// record read again with the same state text is not decoded again.
	decoded map[int64]decodedState
	// woken are the pages indexed in this transaction, whose deferred
	// deliveries are woken in one statement when it commits.
	woken []any
}

type batchOutcome struct {
	seq int64
	out delivery.Outcome
}

// begin makes the Tx for a write transaction.
func (s *Store) begin(sqlTx *sql.Tx) *Tx {
	return &Tx{tx: sqlTx, stmts: s.stmts, now: s.now(), pages: s.pages}
}

// commit wakes the deliveries deferred until the pages it indexed,
// commits the transaction, and then keeps the pages it read and wrote for
// the transactions after it.
func (t *Tx) commit(ctx context.Context) error {
	if err := t.wake(ctx); err != nil {
		return err
	}
	if err := t.tx.Commit(); err != nil {
		return err
	}
	t.pages.keep(t.stored, t.revs)
	return nil
}

// scanRecord reads a record in the transaction: a state it wrote is not
// decoded again, nor pages it read or wrote read again.
func (t *Tx) scanRecord(ctx context.Context, row interface{ Scan(...any) error }) (incident.Record, error) {
	rec, err := scanRecordWith(row, t.decoded, t.noteRev)
	if err != nil {
		return rec, err
	}
	recs := []incident.Record{rec}
	err = t.withPages(ctx, recs)
	return recs[0], err
}

// collectRecords is scanRecord for every row.
func (t *Tx) collectRecords(ctx context.Context, rows *sql.Rows) ([]incident.Record, error) {
	recs, err := collectRecordsWith(rows, t.decoded, t.noteRev)
	if err != nil {
		return nil, err
	}
	return recs, t.withPages(ctx, recs)
}

// ErrNotPending is returned by Process when the delivery is no longer
// pending: another processor (a replica that held the processing lease
// before this one) processed it first.
var ErrNotPending = errors.New("the delivery is no longer pending")

// Process runs fn in a write transaction and records its outcome on the
// delivery in the same transaction. It first claims the delivery: the row
// stays locked until the commit, and a delivery another processor has
// processed meanwhile is refused with ErrNotPending, so that a delivery is
// processed once even while two replicas briefly both believe they hold
// the processing lease.
func (s *Store) Process(ctx context.Context, seq int64, fn func(*Tx) (delivery.Outcome, error)) (err error) {
	s.stmts.warm(ctx)
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("process delivery %d: %w", seq, err)
	}
	defer rollback(sqlTx, &err)
	if err := s.decideAlone(ctx, sqlTx); err != nil {
		return fmt.Errorf("process delivery %d: %w", seq, err)
	}
	tx := s.begin(sqlTx)
	claimed, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = status WHERE seq = $1 AND status = 'pending'`, seq)
	if err != nil {
		return fmt.Errorf("claim delivery %d: %w", seq, err)
	}
	if n, err := claimed.RowsAffected(); err != nil || n == 0 {
		return errors.Join(fmt.Errorf("delivery %d: %w", seq, ErrNotPending), err)
	}
	out, err := fn(tx)
	if err != nil {
		return err
	}
	if err = tx.recordOutcome(ctx, seq, out); err != nil {
		return err
	}
	if err = tx.commit(ctx); err != nil {
		return fmt.Errorf("process delivery %d: %w", seq, err)
	}
	return nil
}

// recordOutcome records what processing made of a delivery, in the
// transaction that applied it.
func (t *Tx) recordOutcome(ctx context.Context, seq int64, out delivery.Outcome) error {
	if _, err := t.ExecContext(ctx, `UPDATE deliveries
		SET status = $2, reason = $3, subject = $4, processed_at = $5 WHERE seq = $1`,
		seq, string(out.Status), out.Reason, out.Subject, t.now.UnixMilli()); err != nil {
		return fmt.Errorf("process delivery %d: %w", seq, err)
	}
	return nil
}

// recordOutcomes is recordOutcome for each of a batch's outcomes, in one
// statement. It runs before commit wakes the deliveries deferred until a
// page the batch indexed, so that one of the batch's own is woken too.
func (t *Tx) recordOutcomes(ctx context.Context, batch []batchOutcome) error {
	if len(batch) == 0 {
		return nil
	}
	var q strings.Builder
	args := make([]any, 0, 1+4*len(batch))
	args = append(args, t.now.UnixMilli())
	// A named common table, which both databases take (SQLite names no
	// columns of a VALUES in FROM); seq cast, as PostgreSQL reads an
	// untyped parameter in VALUES as text.
	q.WriteString(`WITH outcome (seq, status, reason, subject) AS (VALUES `)
	for i, o := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "(CAST($%d AS BIGINT), $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
		args = append(args, o.seq, string(o.out.Status), o.out.Reason, o.out.Subject)
	}
	q.WriteString(`) UPDATE deliveries SET status = outcome.status, reason = outcome.reason,
		subject = outcome.subject, processed_at = $1 FROM outcome WHERE deliveries.seq = outcome.seq`)
	// Its text varies with the batch: not for the prepared statements.
	res, err := t.tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("process %d deliveries: %w", len(batch), err)
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(batch)) {
		return errors.Join(fmt.Errorf("process %d deliveries: %d outcomes recorded", len(batch), n), err)
	}
	return nil
}

// decideAlone makes a transaction that writes decisions the only one doing
// so across replicas, until it ends. The processing lease already leaves
// one replica processing; this fences a replica that lost its lease
// without knowing it yet (its lease connection cut, the database failed
// over), so two decisions never read and write records at once. SQLite
// has one writer, which is the same guarantee.
//
// It also lets processing commit without waiting for the disk: a commit
// lost to a crash of the database loses the delivery's outcome with it,
// so the delivery is still pending and is processed again, and the jobs
// lost with it are inserted again (every job is idempotent). Intake,
// which answers PagerDuty, keeps waiting.
func (s *Store) decideAlone(ctx context.Context, tx *sql.Tx) error {
	if s.pool == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(`+lockKey+`)`,
		"decisions")
	return err
}

// SQL is the transaction itself, for the job queue to insert jobs in it
// (River's InsertTx), so that a job exists if and only if its change does.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Update runs fn in a write transaction that no delivery owns (timers),
// decided alone as a delivery's is.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) (err error) {
	s.stmts.warm(ctx)
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(sqlTx, &err)
	if err := s.decideAlone(ctx, sqlTx); err != nil {
		return err
	}
	tx := s.begin(sqlTx)
	if err = fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// MarkEventSeen records a vendor event as applied. It reports false when
// the event had been applied before.
func (t *Tx) MarkEventSeen(ctx context.Context, source incident.Source, eventID string) (bool, error) {
	res, err := t.ExecContext(ctx, `INSERT INTO processed_events (source, event_id) VALUES ($1, $2)
		ON CONFLICT (source, event_id) DO NOTHING`, string(source), eventID)
	if err != nil {
		return false, fmt.Errorf("mark event %s/%s: %w", source, eventID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordByID returns a record for update.
func (t *Tx) RecordByID(ctx context.Context, id int64) (*incident.Record, error) {
	rec, err := t.scanRecord(ctx, t.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", incident.FormatRef(id), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", incident.FormatRef(id), err)
	}
	return &rec, nil
}

// ActiveAwareness returns the open awareness records, for expiry.
func (t *Tx) ActiveAwareness(ctx context.Context) ([]incident.Record, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+recordColumns+` FROM incidents
		WHERE kind = 'awareness' AND status IN ('open', 'acknowledged') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("active awareness records: %w", err)
	}
	return t.collectRecords(ctx, rows)
}

// ForgetEvent undoes MarkEventSeen for an event that was not applied.
func (t *Tx) ForgetEvent(ctx context.Context, source incident.Source, eventID string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM processed_events WHERE source = $1 AND event_id = $2`,
		string(source), eventID); err != nil {
		return fmt.Errorf("forget event %s/%s: %w", source, eventID, err)
	}
	return nil
}

// RecordByPage returns the record that holds the PagerDuty incident, or nil.
func (t *Tx) RecordByPage(ctx context.Context, pageID string) (*incident.Record, error) {
	row := t.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM incidents
		WHERE id = (SELECT incident_id FROM incident_pages WHERE page_id = $1)`, pageID)
	rec, err := t.scanRecord(ctx, row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record of page %s: %w", pageID, err)
	}
	return &rec, nil
}

// ActiveRecords returns the records with the key a page may join: not
// closed, and opened between from and to (inclusive), or awareness
// records, open or acknowledged, that opened before to (an announced
// change is watched for as long as it is active). Resolved ones are among
// them: whether a record had resolved when a page arrives depends on the
// order its storm's deliveries were decided in.
//
// The two halves are short ranges of incidents_active: the window, and the
// open awareness records opened before it. Written as one OR, SQLite read
// every resolved record of the key, which grows for ever where severities
// ask for no review (BenchmarkCorrelationAtScale, docs/performance.md).
func (t *Tx) ActiveRecords(ctx context.Context, correlationKey string, from, to time.Time) ([]incident.Record, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+recordColumns+` FROM incidents
		WHERE correlation_key = $1
		  AND status IN ('open', 'acknowledged', 'resolved', 'reviewing')
		  AND opened_at BETWEEN $2 AND $3
		UNION ALL
		SELECT `+recordColumns+` FROM incidents
		WHERE correlation_key = $1
		  AND status IN ('open', 'acknowledged') AND kind = 'awareness'
		  AND opened_at < $2
		ORDER BY id`, correlationKey, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("active records of %s: %w", correlationKey, err)
	}
	return t.collectRecords(ctx, rows)
}

// SaveRecord inserts or updates rec (setting rec.ID on insert), indexes
// its pages, and appends the entries whose keys are new. Deliveries that
// were deferred until one of its pages was known are queued again.
func (t *Tx) SaveRecord(ctx context.Context, rec *incident.Record, entries []incident.TimelineEntry) error {
	pages := t.pagesToSave(rec)
	saved := recordState{
		PagesRev:      pages.rev,
		Responders:    rec.Responders,
		Roles:         rec.Roles,
		AckedBy:       rec.AckedBy,
		CommanderAt:   rec.CommanderAt,
		SeveritySetBy: rec.SeveritySetBy,
		Cause:         rec.Cause,
		ReviewDoc:     rec.ReviewDoc,
		ReviewNumber:  rec.ReviewDocNumber,
		SummaryFor:    rec.SummaryFor,
		ReviewDue:     rec.ReviewDue,
		ReviewOpensAt: rec.ReviewOpensAt,
		Requested:     rec.ReviewRequested,
		Drill:         rec.Drill,
		DrillPaged:    rec.DrillPaged,
		Archived:      rec.Archived,
		Learned:       rec.Learned,
	}
	state, err := json.Marshal(saved)
	if err != nil {
		return fmt.Errorf("save record: %w", err)
	}
	args := []any{rec.Title, string(rec.Status), string(rec.Kind), rec.Severity, rec.Service, rec.CorrelationKey,
		rec.Commander, rec.OpenedAt.UnixMilli(), millis(rec.AcknowledgedAt), millis(rec.ResolvedAt),
		t.now.UnixMilli(), string(state)}
	if rec.ID == 0 {
		err = t.QueryRowContext(ctx, `INSERT INTO incidents (title, status, kind, severity, service,
			correlation_key, commander, opened_at, acknowledged_at, resolved_at, updated_at, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`, args...).Scan(&rec.ID)
	} else {
		_, err = t.ExecContext(ctx, `UPDATE incidents SET title = $1, status = $2, kind = $3, severity = $4,
			service = $5, correlation_key = $6, commander = $7, opened_at = $8, acknowledged_at = $9,
			resolved_at = $10, updated_at = $11, state = $12 WHERE id = $13`, append(args, rec.ID)...)
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", rec.Ref(), err)
	}
	if err := t.savePages(ctx, rec, pages); err != nil {
		return err
	}
	if t.decoded == nil {
		t.decoded = map[int64]decodedState{}
	}
	t.decoded[rec.ID] = decodedState{text: string(state), state: saved.clone()}
	return t.AddEntries(ctx, rec.ID, entries)
}

// AddEntries puts entries on a record's timeline without saving the
// record itself.
func (t *Tx) AddEntries(ctx context.Context, recordID int64, entries []incident.TimelineEntry) error {
	for _, e := range entries {
		if err := t.putEntry(ctx, recordID, e); err != nil {
			return err
		}
	}
	return nil
}

// putEntry adds a timeline entry, or updates the one with its key: the
// same event is never on a timeline twice, and an entry that follows a
// changing thing (a deployment's state) shows its newest form.
func (t *Tx) putEntry(ctx context.Context, recordID int64, e incident.TimelineEntry) error {
	if _, err := t.ExecContext(ctx, `INSERT INTO timeline (incident_id, entry_key, at, source, kind, summary, url)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (incident_id, entry_key) DO UPDATE SET at = excluded.at, source = excluded.source,
			kind = excluded.kind, summary = excluded.summary, url = excluded.url`,
		recordID, e.Key, e.At.UnixMilli(), e.Source, e.Kind, e.Summary, e.URL); err != nil {
		return fmt.Errorf("save %s timeline: %w", incident.FormatRef(recordID), err)
	}
	return nil
}

// decodedState is a record's state as a transaction last wrote it: its
// text, and what it decodes to.
type decodedState struct {
	text  string
	state recordState
}

// clone copies the slices a record gets, so that no two records read
// share them.
func (st recordState) clone() recordState {
	st.Pages = clonePages(st.Pages)
	st.Responders = slices.Clone(st.Responders)
	st.Roles = slices.Clone(st.Roles)
	st.Learned = slices.Clone(st.Learned)
	return st
}

// recordState is the part of a record kept as JSON: read and written
// whole, never queried. Its pages are rows of their own (pages.go); Pages
// is read from records saved before, and never written.
type recordState struct {
	Pages []*incident.Page `json:"pages,omitempty"`
	// PagesRev names the version of the record's rows in incident_pages:
	// a random number each save that changes them draws, so that a
	// replica's copy of them from an earlier transaction is known to be
	// current without reading them (pages.go).
	PagesRev      uint64          `json:"pages_rev,omitempty"`
	Responders    []string        `json:"responders,omitempty"`
	Roles         []incident.Role `json:"roles,omitempty"`
	AckedBy       string          `json:"acked_by,omitempty"`
	CommanderAt   time.Time       `json:"commander_at,omitzero"`
	SeveritySetBy string          `json:"severity_set_by,omitempty"`
	Cause         string          `json:"cause,omitempty"`
	ReviewDoc     string          `json:"review_doc,omitempty"`
	ReviewNumber  int             `json:"review_number,omitempty"`
	SummaryFor    time.Time       `json:"summary_for,omitzero"`
	ReviewDue     time.Time       `json:"review_due,omitzero"`
	Requested     bool            `json:"review_requested,omitempty"`
	ReviewOpensAt time.Time       `json:"review_opens_at,omitzero"`
	Drill         string          `json:"drill,omitempty"`
	DrillPaged    bool            `json:"drill_paged,omitempty"`
	Archived      string          `json:"archived,omitempty"`
	Learned       []string        `json:"learned,omitempty"`
}

const recordColumns = `id, title, status, kind, severity, service, correlation_key, commander,
	opened_at, acknowledged_at, resolved_at, state`

func scanRecord(row interface{ Scan(...any) error }) (incident.Record, error) {
	return scanRecordWith(row, nil, nil)
}

// scanRecordWith is scanRecord with the states a transaction already
// decoded: a storm's record is read for each of its deliveries in a batch,
// and decoding its pages was most of the cost (docs/performance.md).
//
// noteRev, when not nil, is told the revision of the record's pages.
func scanRecordWith(row interface{ Scan(...any) error }, decoded map[int64]decodedState, noteRev func(id int64, rev uint64)) (incident.Record, error) {
	var (
		r                      incident.Record
		status, kind, state    string
		opened                 int64
		acknowledged, resolved sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.Title, &status, &kind, &r.Severity, &r.Service, &r.CorrelationKey, &r.Commander,
		&opened, &acknowledged, &resolved, &state); err != nil {
		return r, err
	}
	var st recordState
	if d, ok := decoded[r.ID]; ok && d.text == state {
		st = d.state.clone()
	} else if err := json.Unmarshal([]byte(state), &st); err != nil {
		return r, fmt.Errorf("%s state: %w", r.Ref(), err)
	}
	if noteRev != nil {
		noteRev(r.ID, st.PagesRev)
	}
	r.Status = incident.Status(status)
	r.Kind = incident.Kind(kind)
	r.OpenedAt = fromMillis(sql.NullInt64{Int64: opened, Valid: true})
	r.AcknowledgedAt = fromMillis(acknowledged)
	r.ResolvedAt = fromMillis(resolved)
	r.Pages = st.Pages
	r.Responders = st.Responders
	r.Roles = st.Roles
	r.AckedBy, r.CommanderAt = st.AckedBy, st.CommanderAt
	if r.AckedBy == "" && !r.CommanderAt.IsZero() {
		// Saved before roles: the commander was the first acknowledger.
		r.AckedBy = r.Commander
	}
	r.SeveritySetBy = st.SeveritySetBy
	r.Cause = st.Cause
	r.ReviewDoc, r.ReviewDocNumber, r.SummaryFor = st.ReviewDoc, st.ReviewNumber, st.SummaryFor
	r.ReviewDue, r.ReviewRequested, r.ReviewOpensAt = st.ReviewDue, st.Requested, st.ReviewOpensAt
	r.Drill, r.DrillPaged, r.Archived, r.Learned = st.Drill, st.DrillPaged, st.Archived, st.Learned
	return r, nil
}

func collectRecords(rows *sql.Rows) ([]incident.Record, error) {
	return collectRecordsWith(rows, nil, nil)
}

func collectRecordsWith(rows *sql.Rows, decoded map[int64]decodedState, noteRev func(id int64, rev uint64)) ([]incident.Record, error) {
	defer rows.Close()
	var out []incident.Record
	for rows.Next() {
		r, err := scanRecordWith(rows, decoded, noteRev)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// IncidentFilter narrows Incidents. Before pages: only records with a
// smaller id (the previous page's last id).
type IncidentFilter struct {
	Status   incident.Status
	Service  string
	Severity string
	Kind     incident.Kind
	// OpenedSince keeps records opened at or after it.
	OpenedSince time.Time
	Before      int64
	Limit       int
}

// Incidents lists records newest first, without timelines.
func (s *Store) Incidents(ctx context.Context, f IncidentFilter) ([]incident.Record, error) {
	var c conditions
	if f.Status != "" {
		c.add("status = $%d", string(f.Status))
	}
	if f.Service != "" {
		c.add("service = $%d", f.Service)
	}
	if f.Severity != "" {
		c.add("severity = $%d", f.Severity)
	}
	if f.Kind != "" {
		c.add("kind = $%d", string(f.Kind))
	}
	if !f.OpenedSince.IsZero() {
		c.add("opened_at >= $%d", f.OpenedSince.UnixMilli())
	}
	if f.Before > 0 {
		c.add("id < $%d", f.Before)
	}
	q, args := c.query(`SELECT `+recordColumns+` FROM incidents`, "id DESC", f.Limit)
	recs, err := s.listIncidents(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return recs, s.fillFollowUps(ctx, recs)
}

// readSnapshot is a read transaction whose statements all see the database
// as it was when the first began. PostgreSQL's default (read committed)
// gives each statement its own snapshot; SQLite's read transactions are
// snapshots already, and its driver ignores the level.
var readSnapshot = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}

// listIncidents reads records and their pages in one read transaction, so
// that a commit between the two reads cannot pair a record with pages
// newer than it.
func (s *Store) listIncidents(ctx context.Context, q string, args []any) (recs []incident.Record, err error) {
	tx, err := s.read.BeginTx(ctx, readSnapshot)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	if recs, err = collectRecords(rows); err != nil {
		return nil, err
	}
	return recs, fillPages(ctx, tx, recs)
}

// Incident returns one record with its timeline, in the order things
// happened. Both are read in one transaction, so that a commit between the
// two reads cannot pair an old record with a newer timeline.
func (s *Store) Incident(ctx context.Context, id int64) (rec incident.Record, err error) {
	tx, err := s.read.BeginTx(ctx, readSnapshot)
	if err != nil {
		return rec, fmt.Errorf("%s: %w", incident.FormatRef(id), err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	rec, err = scanRecord(tx.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return rec, fmt.Errorf("%s: %w", incident.FormatRef(id), ErrNotFound)
	}
	if err == nil {
		recs := []incident.Record{rec}
		err = fillPages(ctx, tx, recs)
		rec = recs[0]
	}
	if err != nil {
		return rec, fmt.Errorf("%s: %w", incident.FormatRef(id), err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT entry_key, at, source, kind, summary, url FROM timeline
		WHERE incident_id = $1 ORDER BY at, seq`, id)
	if err != nil {
		return rec, fmt.Errorf("%s timeline: %w", rec.Ref(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e  incident.TimelineEntry
			at int64
		)
		if err := rows.Scan(&e.Key, &at, &e.Source, &e.Kind, &e.Summary, &e.URL); err != nil {
			return rec, fmt.Errorf("%s timeline: %w", rec.Ref(), err)
		}
		e.At = fromMillis(sql.NullInt64{Int64: at, Valid: true})
		rec.Timeline = append(rec.Timeline, e)
	}
	if err := rows.Err(); err != nil {
		return rec, fmt.Errorf("%s timeline: %w", rec.Ref(), err)
	}
	rec.Changes, err = attachedChanges(ctx, tx, id)
	if err != nil {
		return rec, err
	}
	rec.FollowUps, err = followUpsOf(ctx, tx, id)
	return rec, err
}

// ProcessBatch processes up to limit pending deliveries, oldest first, in
// one transaction: fn decides each in turn, seeing what those before it
// wrote, and every outcome commits together. The fixed cost of a
// transaction (begin, the fence, commit) is paid once for the batch. If fn
// fails for any delivery, nothing is kept and the error is returned: the
// caller then processes one at a time, where a poisonous delivery is
// isolated. It returns how many deliveries it processed.
func (s *Store) ProcessBatch(ctx context.Context, limit int, fn func(*Tx, delivery.Delivery) (delivery.Outcome, error)) (n int, err error) {
	s.stmts.warm(ctx)
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("process deliveries: %w", err)
	}
	defer rollback(sqlTx, &err)
	if err := s.decideAlone(ctx, sqlTx); err != nil {
		return 0, fmt.Errorf("process deliveries: %w", err)
	}
	// Under the fence (or SQLite's one writer) no other processor is
	// deciding: what is pending now is this batch's to claim.
	rows, err := sqlTx.QueryContext(ctx, `SELECT `+deliveryColumns+`, body FROM deliveries
		WHERE status = 'pending' ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return 0, fmt.Errorf("process deliveries: %w", err)
	}
	var batch []delivery.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, true)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("process deliveries: %w", err)
		}
		batch = append(batch, d)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("process deliveries: %w", err)
	}
	tx := s.begin(sqlTx)
	outcomes := make([]batchOutcome, 0, len(batch))
	for _, d := range batch {
		out, err := fn(tx, d)
		if err != nil {
			return 0, err
		}
		outcomes = append(outcomes, batchOutcome{seq: d.Seq, out: out})
	}
	// The outcomes commit together or not at all: written in one
	// statement, one round trip on PostgreSQL instead of one a delivery.
	if err := tx.recordOutcomes(ctx, outcomes); err != nil {
		return 0, err
	}
	if err := tx.commit(ctx); err != nil {
		return 0, fmt.Errorf("process deliveries: %w", err)
	}
	return len(batch), nil
}
