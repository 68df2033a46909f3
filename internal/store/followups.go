package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

const followUpColumns = `f.id, f.incident_id, f.followup_key, f.status, f.jira_id, f.doc`

// SaveFollowUp inserts a follow-up or updates the one with its key,
// setting f.ID. A ticket followed by another follow-up is an error.
func (t *Tx) SaveFollowUp(ctx context.Context, f *incident.FollowUp) error {
	doc, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save follow-up %s: %w", f.Key, err)
	}
	err = t.QueryRowContext(ctx, `INSERT INTO followups
		(incident_id, followup_key, status, jira_id, requested_at, updated_at, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (followup_key) DO UPDATE SET status = excluded.status, jira_id = excluded.jira_id,
			updated_at = excluded.updated_at, doc = excluded.doc
		RETURNING id`,
		f.IncidentID, f.Key, string(f.Status), f.JiraID, f.RequestedAt.UnixMilli(), t.now.UnixMilli(), string(doc),
	).Scan(&f.ID)
	if err != nil {
		return fmt.Errorf("save follow-up %s of %s: %w", f.Key, incident.FormatRef(f.IncidentID), err)
	}
	return nil
}

// WithdrawFollowUp forgets a follow-up whose ticket was never filed.
func (t *Tx) WithdrawFollowUp(ctx context.Context, key string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM followups WHERE followup_key = $1 AND jira_id = ''`, key); err != nil {
		return fmt.Errorf("withdraw follow-up %s: %w", key, err)
	}
	return nil
}

// FollowUpsOf returns a record's follow-ups, oldest first.
func (t *Tx) FollowUpsOf(ctx context.Context, incidentID int64) ([]incident.FollowUp, error) {
	return followUpsOf(ctx, t, incidentID)
}

func followUpsOf(ctx context.Context, q querier, incidentID int64) ([]incident.FollowUp, error) {
	return queryFollowUps(ctx, q, `SELECT `+followUpColumns+` FROM followups f
		WHERE f.incident_id = $1 ORDER BY f.id`, incidentID)
}

// FollowUpByTicket returns the follow-up of a Jira issue id, or nil.
func (t *Tx) FollowUpByTicket(ctx context.Context, jiraID string) (*incident.FollowUp, error) {
	return oneFollowUp(queryFollowUps(ctx, t, `SELECT `+followUpColumns+` FROM followups f
		WHERE f.jira_id = $1`, jiraID))
}

// FollowUpByKey returns a follow-up for update.
func (t *Tx) FollowUpByKey(ctx context.Context, key string) (*incident.FollowUp, error) {
	return followUpByKey(ctx, t, key)
}

// FollowUp returns the follow-up with the key.
func (s *Store) FollowUp(ctx context.Context, key string) (incident.FollowUp, error) {
	f, err := followUpByKey(ctx, s.read, key)
	if err != nil {
		return incident.FollowUp{}, err
	}
	return *f, nil
}

func followUpByKey(ctx context.Context, q querier, key string) (*incident.FollowUp, error) {
	f, err := oneFollowUp(queryFollowUps(ctx, q, `SELECT `+followUpColumns+` FROM followups f
		WHERE f.followup_key = $1`, key))
	if err == nil && f == nil {
		err = fmt.Errorf("follow-up %s: %w", key, ErrNotFound)
	}
	return f, err
}

// FollowUpFilter narrows FollowUps.
type FollowUpFilter struct {
	// Open keeps follow-ups whose work is not finished.
	Open    bool
	Service string
	// RequestedBefore keeps follow-ups asked for before it.
	RequestedBefore time.Time
	Limit           int
}

// FollowUps lists follow-ups across incidents, oldest request first: the
// ones waiting longest lead.
func (s *Store) FollowUps(ctx context.Context, f FollowUpFilter) ([]incident.FollowUp, error) {
	var c conditions
	if f.Open {
		c.where = append(c.where, "f.status IN ('open', 'in_progress')")
	}
	if f.Service != "" {
		c.add("i.service = $%d", f.Service)
	}
	if !f.RequestedBefore.IsZero() {
		c.add("f.requested_at < $%d", f.RequestedBefore.UnixMilli())
	}
	q, args := c.query(`SELECT `+followUpColumns+` FROM followups f JOIN incidents i ON i.id = f.incident_id`,
		"f.requested_at, f.id", f.Limit)
	return queryFollowUps(ctx, s.read, q, args...)
}

func oneFollowUp(fs []incident.FollowUp, err error) (*incident.FollowUp, error) {
	if err != nil || len(fs) == 0 {
		return nil, err
	}
	return &fs[0], nil
}

func queryFollowUps(ctx context.Context, q querier, query string, args ...any) ([]incident.FollowUp, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("follow-ups: %w", err)
	}
	defer rows.Close()
	var out []incident.FollowUp
	for rows.Next() {
		var (
			f           incident.FollowUp
			status, doc string
		)
		if err := rows.Scan(&f.ID, &f.IncidentID, &f.Key, &status, &f.JiraID, &doc); err != nil {
			return nil, fmt.Errorf("follow-ups: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &f); err != nil {
			return nil, fmt.Errorf("follow-up %s: %w", f.Key, err)
		}
		f.Status = incident.FollowUpStatus(status)
		out = append(out, f)
	}
	return out, rows.Err()
}

// fillFollowUps reads the follow-ups of listed records in one query.
func (s *Store) fillFollowUps(ctx context.Context, recs []incident.Record) error {
	if len(recs) == 0 {
		return nil
	}
	byID := make(map[int64]*incident.Record, len(recs))
	marks := make([]string, len(recs))
	args := make([]any, len(recs))
	for i := range recs {
		byID[recs[i].ID] = &recs[i]
		marks[i] = fmt.Sprintf("$%d", i+1)
		args[i] = recs[i].ID
	}
	fs, err := queryFollowUps(ctx, s.read, `SELECT `+followUpColumns+` FROM followups f
		WHERE f.incident_id IN (`+strings.Join(marks, ", ")+`) ORDER BY f.id`, args...)
	if err != nil {
		return err
	}
	for _, f := range fs {
		byID[f.IncidentID].FollowUps = append(byID[f.IncidentID].FollowUps, f)
	}
	return nil
}
