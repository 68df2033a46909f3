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

// AppendDeliveries stores ds in one statement, one round trip to the
// database however many deliveries the inbox's writer batched. fresh[i]
// is false when ds[i] had been stored before (same source and delivery
// id), or comes again later in the same batch.
func (s *Store) AppendDeliveries(ctx context.Context, ds []delivery.Delivery) (fresh []bool, err error) {
	if s.pool != nil {
		return s.appendDeliveriesPostgres(ctx, ds)
	}
	// SQLite: a row of values a delivery.
	if len(ds) <= maxRowsPerInsert {
		return appendDeliveries(ctx, s.write, ds)
	}
	// More than one statement holds (SQLite takes 32,766 values in one):
	// one transaction, a statement per chunk.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
	}
	defer rollback(tx, &err)
	for chunk := range slices.Chunk(ds, maxRowsPerInsert) {
		f, err := appendDeliveries(ctx, tx, chunk)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, f...)
	}
	// A repeat in a later chunk of one in an earlier one is a duplicate
	// too: its insert did nothing.
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
	}
	return fresh, nil
}

// maxRowsPerInsert keeps one insert within both databases' limits on
// values in a statement (6 a row).
const maxRowsPerInsert = 1000

func appendDeliveries(ctx context.Context, db querier, ds []delivery.Delivery) (fresh []bool, err error) {
	if len(ds) == 0 {
		return nil, nil
	}
	var (
		q    strings.Builder
		args = make([]any, 0, 6*len(ds))
	)
	q.WriteString(`INSERT INTO deliveries (source, delivery_id, event, received_at, body, headers, status) VALUES `)
	for i, d := range ds {
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, 'pending')", n+1, n+2, n+3, n+4, n+5, n+6)
		args = append(args, string(d.Source), d.ID, d.Event, d.ReceivedAt.UnixMilli(), d.Body, headersJSON(d.Headers))
	}
	q.WriteString(` ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id`)
	rows, err := db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
	}
	defer rows.Close()
	return freshOf(ds, rows)
}

// freshOf says which of ds an insert stored, from the (source, id) pairs
// it returned: database/sql's rows on SQLite, pgx's on PostgreSQL.
func freshOf(ds []delivery.Delivery, rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]bool, error) {
	inserted := make(map[[2]string]bool, len(ds))
	for rows.Next() {
		var source, id string
		if err := rows.Scan(&source, &id); err != nil {
			return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
		}
		inserted[[2]string{source, id}] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
	}
	fresh := make([]bool, len(ds))
	for i, d := range ds {
		key := [2]string{string(d.Source), d.ID}
		fresh[i] = inserted[key]
		delete(inserted, key) // a repeat later in the batch is a duplicate
	}
	return fresh, nil
}

// headersJSON is the stored form of a delivery's kept headers.
func headersJSON(h map[string]string) string {
	b, err := json.Marshal(h)
	if err != nil || h == nil {
		return "{}"
	}
	return string(b)
}

// appendDeliveriesQuery stores a batch from one array a column and the
// bodies end to end in one value. It is one statement text whatever the
// batch's size, prepared once a connection (pgx's statement cache), and
// each body is copied once into the message. A parameter a value made
// pgx grow its buffers step by step, copying a batch's bodies several
// times over: most of intake's garbage (docs/performance.md, change 11).
// WITH ORDINALITY keeps the batch's order, which is the order its
// deliveries are numbered and processed in, and makes the first of two
// deliveries with one id the one kept.
const appendDeliveriesQuery = `INSERT INTO deliveries (source, delivery_id, event, received_at, body, headers, status)
	SELECT d.source, d.delivery_id, d.event, d.received_at, substring($8::bytea FROM d.body_at FOR d.body_length), d.headers, 'pending'
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::integer[], $7::text[])
		WITH ORDINALITY AS d(source, delivery_id, event, received_at, body_at, body_length, headers, n)
	ORDER BY d.n
	ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id`

// maxBodiesPerStatement keeps a batch's bodies within what one bytea
// value holds (1 GB) and an int32 offset counts. A variable, so that a
// test can split a batch without a gigabyte of bodies.
var maxBodiesPerStatement = 1 << 29

func (s *Store) appendDeliveriesPostgres(ctx context.Context, ds []delivery.Delivery) (fresh []bool, err error) {
	if len(ds) == 0 {
		return nil, nil
	}
	size := 0
	for _, d := range ds {
		size += len(d.Body)
	}
	if size > maxBodiesPerStatement && len(ds) > 1 {
		// Two statements, each answered for its own deliveries. The
		// default limits never come here (256 deliveries of at most
		// 2 MiB); limits raised far enough do.
		half := len(ds) / 2
		first, err := s.appendDeliveriesPostgres(ctx, ds[:half])
		if err != nil {
			return nil, err
		}
		rest, err := s.appendDeliveriesPostgres(ctx, ds[half:])
		if err != nil {
			return nil, err
		}
		return append(first, rest...), nil
	}
	var (
		sources    = make([]string, len(ds))
		ids        = make([]string, len(ds))
		events     = make([]string, len(ds))
		receivedAt = make([]int64, len(ds))
		bodyAt     = make([]int32, len(ds))
		bodyLength = make([]int32, len(ds))
		headers    = make([]string, len(ds))
		bodies     = make([]byte, 0, size)
	)
	for i, d := range ds {
		sources[i], ids[i], events[i], receivedAt[i] = string(d.Source), d.ID, d.Event, d.ReceivedAt.UnixMilli()
		// substring counts from 1.
		bodyAt[i], bodyLength[i] = int32(len(bodies)+1), int32(len(d.Body))
		bodies = append(bodies, d.Body...)
		headers[i] = headersJSON(d.Headers)
	}
	// The bodies go last: pgx then grows its buffers once for them, not
	// again for the smaller values after them.
	rows, err := s.pool.Query(ctx, appendDeliveriesQuery, sources, ids, events, receivedAt, bodyAt, bodyLength, headers, bodies)
	if err != nil {
		return nil, fmt.Errorf("append %d deliveries: %w", len(ds), err)
	}
	defer rows.Close()
	return freshOf(ds, rows)
}

const deliveryColumns = `seq, source, delivery_id, event, received_at, status, reason, subject, attempts, processed_at`

func scanDelivery(row interface{ Scan(...any) error }, withBody bool, more ...any) (delivery.Delivery, error) {
	var (
		d              delivery.Delivery
		source, status string
		received       int64
		processed      sql.NullInt64
		dest           = []any{&d.Seq, &source, &d.ID, &d.Event, &received, &status, &d.Reason, &d.Subject, &d.Attempts, &processed}
	)
	if withBody {
		dest = append(dest, &d.Body)
	}
	if err := row.Scan(append(dest, more...)...); err != nil {
		return delivery.Delivery{}, err
	}
	d.Source = incident.Source(source)
	d.Status = delivery.Status(status)
	d.ReceivedAt = fromMillis(sql.NullInt64{Int64: received, Valid: true})
	d.ProcessedAt = fromMillis(processed)
	return d, nil
}

// NextPending returns the oldest pending delivery, with its body.
func (s *Store) NextPending(ctx context.Context) (delivery.Delivery, bool, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, body FROM deliveries
		WHERE status = 'pending' ORDER BY seq LIMIT 1`)
	d, err := scanDelivery(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Delivery{}, false, nil
	}
	if err != nil {
		return delivery.Delivery{}, false, fmt.Errorf("next pending delivery: %w", err)
	}
	return d, true, nil
}

// DeliveryFilter narrows Deliveries.
type DeliveryFilter struct {
	Source incident.Source
	Status delivery.Status
	Limit  int
}

// Deliveries lists deliveries newest first, without their bodies.
func (s *Store) Deliveries(ctx context.Context, f DeliveryFilter) ([]delivery.Delivery, error) {
	var c conditions
	if f.Source != "" {
		c.add("source = $%d", string(f.Source))
	}
	if f.Status != "" {
		c.add("status = $%d", string(f.Status))
	}
	q, args := c.query(`SELECT `+deliveryColumns+` FROM deliveries`, "seq DESC", f.Limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []delivery.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Delivery returns one delivery with its body and headers.
func (s *Store) Delivery(ctx context.Context, source incident.Source, id string) (delivery.Delivery, error) {
	var headers string
	row := s.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, body, headers FROM deliveries
		WHERE source = $1 AND delivery_id = $2`, string(source), id)
	d, err := scanDelivery(row, true, &headers)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Delivery{}, fmt.Errorf("delivery %s/%s: %w", source, id, ErrNotFound)
	}
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(headers), &d.Headers); err != nil {
		return d, fmt.Errorf("delivery %s/%s headers: %w", source, id, err)
	}
	return d, nil
}

// Replay queues a delivery for processing again. Its events are still
// deduplicated, so replaying an applied delivery changes nothing.
func (s *Store) Replay(ctx context.Context, source incident.Source, id string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', reason = '', attempts = 0
		WHERE source = $1 AND delivery_id = $2`, string(source), id)
	if err != nil {
		return fmt.Errorf("replay %s/%s: %w", source, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("replay %s/%s: %w", source, id, ErrNotFound)
	}
	return nil
}

// RecordFailure counts a failed processing attempt. After maxAttempts the
// delivery is marked failed, so that one poisonous delivery cannot stall
// the inbox; until then it stays pending and is retried first.
func (s *Store) RecordFailure(ctx context.Context, seq int64, reason string, maxAttempts int) (failed bool, err error) {
	row := s.write.QueryRowContext(ctx, `UPDATE deliveries
		SET attempts = attempts + 1, reason = $2,
		    status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE status END,
		    processed_at = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE processed_at END
		WHERE seq = $1 RETURNING status`, seq, reason, maxAttempts, s.now().UnixMilli())
	var status string
	if err := row.Scan(&status); err != nil {
		return false, fmt.Errorf("record failure of delivery %d: %w", seq, err)
	}
	return status == string(delivery.StatusFailed), nil
}

// ExpireDeferred marks deliveries that have waited for their page since
// before the given time as ignored, so that nothing waits forever.
func (s *Store) ExpireDeferred(ctx context.Context, receivedBefore time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries
		SET status = 'ignored', reason = 'its PagerDuty incident ' || subject || ' never arrived', processed_at = $2
		WHERE status = 'deferred' AND received_at < $1`, receivedBefore.UnixMilli(), s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("expire deferred deliveries: %w", err)
	}
	return res.RowsAffected()
}

// conditions builds the WHERE clause of a filtered list, numbering the
// placeholders as both SQLite and PostgreSQL accept them.
type conditions struct {
	where []string
	args  []any
}

func (c *conditions) add(cond string, v any) {
	c.args = append(c.args, v)
	c.where = append(c.where, fmt.Sprintf(cond, len(c.args)))
}

// in adds "column IN (…)" over values.
func (c *conditions) in(column string, values []any) {
	marks := make([]string, len(values))
	for i, v := range values {
		c.args = append(c.args, v)
		marks[i] = fmt.Sprintf("$%d", len(c.args))
	}
	c.where = append(c.where, column+" IN ("+strings.Join(marks, ", ")+")")
}

// query completes a SELECT with the conditions, an order and a limit
// (50 when not positive).
func (c *conditions) query(selectFrom, orderBy string, limit int) (string, []any) {
	q := selectFrom
	if len(c.where) > 0 {
		q += " WHERE " + strings.Join(c.where, " AND ")
	}
	if limit <= 0 {
		limit = 50
	}
	args := append(c.args, limit)
	return q + fmt.Sprintf(" ORDER BY %s LIMIT $%d", orderBy, len(args)), args
}

func rollback(tx *sql.Tx, err *error) {
	if *err != nil {
		_ = tx.Rollback()
	}
}

// Append stores one delivery, for callers without the inbox's
// writer (the CLI); fresh is false when it was stored before.
func (s *Store) Append(ctx context.Context, d delivery.Delivery) (fresh bool, err error) {
	f, err := s.AppendDeliveries(ctx, []delivery.Delivery{d})
	if err != nil {
		return false, err
	}
	return f[0], nil
}

// HubDelivery returns the hub event stored under id, with its body.
func (s *Store) HubDelivery(ctx context.Context, id string) (delivery.Delivery, bool, error) {
	d, err := s.Delivery(ctx, incident.SourceHub, id)
	if errors.Is(err, ErrNotFound) {
		return delivery.Delivery{}, false, nil
	}
	return d, err == nil, err
}

// PruneFilter chooses stored deliveries to delete.
type PruneFilter struct {
	// ReceivedBefore: only deliveries received before this time.
	ReceivedBefore time.Time
	// Statuses: only deliveries in one of these statuses. Pending and
	// deferred ones are never deleted: they are work still to do.
	Statuses []delivery.Status
	// Limit bounds one call: at most this many are deleted.
	Limit int
}

// PruneDeliveries deletes at most f.Limit vendor deliveries, oldest first,
// and returns how many. Hub events (what jobs made) are kept: they are
// the jobs' record of what exists on the vendors. Records, timelines,
// changes and the processed-event ids that deduplicate redeliveries stay.
//
// The deliveries are chosen on a reader, so that the scan never holds the
// single writer that intake commits through; the delete then takes a
// short write transaction on their sequence numbers, checking the status
// again (a replayed delivery is pending once more).
func (s *Store) PruneDeliveries(ctx context.Context, f PruneFilter) (int64, error) {
	var statuses []any
	for _, st := range f.Statuses {
		if st != delivery.StatusPending && st != delivery.StatusDeferred {
			statuses = append(statuses, string(st))
		}
	}
	if len(statuses) == 0 || f.Limit <= 0 {
		return 0, nil
	}
	var c conditions
	c.add("source <> $%d", string(incident.SourceHub))
	c.add("received_at < $%d", f.ReceivedBefore.UnixMilli())
	c.in("status", statuses)
	q, args := c.query(`SELECT seq FROM deliveries`, "seq", f.Limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	var seqs []any
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune deliveries: %w", err)
		}
		seqs = append(seqs, seq)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(seqs) == 0 {
		return 0, err
	}
	var del conditions
	del.in("status", statuses)
	del.in("seq", seqs)
	res, err := s.write.ExecContext(ctx, `DELETE FROM deliveries WHERE `+strings.Join(del.where, " AND "), del.args...)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return res.RowsAffected()
}
