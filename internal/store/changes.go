package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Change returns the stored change with the key, or nil.
func (t *Tx) Change(ctx context.Context, key string) (*incident.Change, error) {
	return changeByKey(ctx, t, key)
}

// Change returns the stored change with the key, or nil: what a job about
// a change reads.
func (s *Store) Change(ctx context.Context, key string) (*incident.Change, error) {
	return changeByKey(ctx, s.read, key)
}

func changeByKey(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, key string) (*incident.Change, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM changes WHERE change_key = $1`, key).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("change %s: %w", key, err)
	}
	var c incident.Change
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, fmt.Errorf("change %s: %w", key, err)
	}
	return &c, nil
}

// SaveChange inserts or replaces a change in the change log.
func (t *Tx) SaveChange(ctx context.Context, c *incident.Change) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save change %s: %w", c.Key, err)
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO changes (change_key, service, kind, at, doc)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (change_key) DO UPDATE SET service = excluded.service, kind = excluded.kind,
			at = excluded.at, doc = excluded.doc`,
		c.Key, c.Service, c.Kind, c.At.UnixMilli(), string(doc)); err != nil {
		return fmt.Errorf("save change %s: %w", c.Key, err)
	}
	return nil
}

// ChangesOf returns the service's changes that took effect between from
// and to (a zero to means no end), oldest first.
func (t *Tx) ChangesOf(ctx context.Context, service string, from, to time.Time) ([]incident.Change, error) {
	return queryChanges(ctx, t, `SELECT doc FROM changes WHERE service = $1 AND at >= $2 AND at <= $3 ORDER BY at`,
		service, from.UnixMilli(), endOrMax(to))
}

// RecordsOfService returns the service's records opened no later than
// openedBy and not resolved before resolvedFrom: those a change at that
// time may belong on.
//
// The two halves are two short ranges of incidents_by_service_resolution:
// the service's unresolved records, and those resolved since. Written as
// one OR, or with opened_at in the first half (SQLite then prefers
// incidents_by_service_time), a query reads every record the service
// ever opened before the change; the few unresolved records opened after
// openedBy are left out here instead.
func (t *Tx) RecordsOfService(ctx context.Context, service string, openedBy, resolvedFrom time.Time) ([]incident.Record, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+recordColumns+` FROM incidents
		WHERE service = $1 AND resolved_at IS NULL
		UNION ALL
		SELECT `+recordColumns+` FROM incidents
		WHERE service = $1 AND resolved_at >= $2 AND opened_at <= $3
		ORDER BY id`,
		service, resolvedFrom.UnixMilli(), openedBy.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("records of %s: %w", service, err)
	}
	recs, err := t.collectRecords(ctx, rows)
	return slices.DeleteFunc(recs, func(r incident.Record) bool { return r.OpenedAt.After(openedBy) }), err
}

// RecordsWithChange returns the records a change is attached to.
func (t *Tx) RecordsWithChange(ctx context.Context, changeKey string) ([]incident.Record, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+recordColumns+` FROM incidents
		WHERE id IN (SELECT incident_id FROM incident_changes WHERE change_key = $1)
		ORDER BY id`, changeKey)
	if err != nil {
		return nil, fmt.Errorf("records with %s: %w", changeKey, err)
	}
	return t.collectRecords(ctx, rows)
}

// AttachChange links a change to a record and puts its entry on the
// timeline, or updates the entry there as the change's state moves.
func (t *Tx) AttachChange(ctx context.Context, recordID int64, changeKey string, e incident.TimelineEntry) error {
	if _, err := t.ExecContext(ctx, `INSERT INTO incident_changes (incident_id, change_key) VALUES ($1, $2)
		ON CONFLICT (incident_id, change_key) DO NOTHING`, recordID, changeKey); err != nil {
		return fmt.Errorf("attach %s to %s: %w", changeKey, incident.FormatRef(recordID), err)
	}
	return t.putEntry(ctx, recordID, e)
}

// Changes lists changes of a service (all services when empty) that took
// effect since the given time, newest first.
func (s *Store) Changes(ctx context.Context, service string, since time.Time, limit int) ([]incident.Change, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT doc FROM changes WHERE at >= $1 AND ($2 = '' OR service = $2) ORDER BY at DESC LIMIT $3`
	return queryChanges(ctx, s.read, q, since.UnixMilli(), service, limit)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryChanges(ctx context.Context, q querier, query string, args ...any) ([]incident.Change, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list changes: %w", err)
	}
	defer rows.Close()
	var out []incident.Change
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list changes: %w", err)
		}
		var c incident.Change
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			return nil, fmt.Errorf("list changes: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func endOrMax(t time.Time) int64 {
	if t.IsZero() {
		return 1<<62 - 1
	}
	return t.UnixMilli()
}

// DetachChange takes a change off a record and its timeline: it was
// attached while the record looked open, and the record's resolve, decided
// since, came before it.
func (t *Tx) DetachChange(ctx context.Context, recordID int64, changeKey, entryKey string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM incident_changes WHERE incident_id = $1 AND change_key = $2`,
		recordID, changeKey); err != nil {
		return fmt.Errorf("detach %s from %s: %w", changeKey, incident.FormatRef(recordID), err)
	}
	if _, err := t.ExecContext(ctx, `DELETE FROM timeline WHERE incident_id = $1 AND entry_key = $2`,
		recordID, entryKey); err != nil {
		return fmt.Errorf("detach %s from %s's timeline: %w", changeKey, incident.FormatRef(recordID), err)
	}
	return nil
}

// AttachedChanges returns the changes attached to a record, oldest first.
func (t *Tx) AttachedChanges(ctx context.Context, recordID int64) ([]incident.Change, error) {
	return attachedChanges(ctx, t, recordID)
}

func attachedChanges(ctx context.Context, q querier, recordID int64) ([]incident.Change, error) {
	return queryChanges(ctx, q, `SELECT c.doc FROM changes c
		JOIN incident_changes ic ON ic.change_key = c.change_key WHERE ic.incident_id = $1 ORDER BY c.at`, recordID)
}
