// Package hubevent carries the hub's own results back through the inbox.
//
// A job makes its vendor call and reports what it made (the review issue
// it opened, the ticket it filed) as a hub event: a delivery of source
// "incidenthub", stored and processed in order like a vendor's webhook, so
// that the router is the only writer of incident state. The delivery's id
// is the report's key, unique to what was made: a job that runs again
// reports the same key, and the inbox keeps it once. The stored report is
// also the job's own record of the object, looked up before it creates
// another (Reported).
package hubevent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Report is the body of a hub event.
type Report struct {
	// Key is unique to what was made (review.opened:INC-12); it is the
	// delivery's id.
	Key  string             `json:"key"`
	Type incident.EventType `json:"type"`
	// At is when it happened: the vendor's own time where the answer
	// carries one (an issue's created_at), else when the job saw it.
	At         time.Time `json:"at"`
	IncidentID int64     `json:"incident_id"`
	Actor      string    `json:"actor,omitempty"`
	// What was made, as the event needs it.
	IssueNumber int              `json:"issue_number,omitempty"`
	URL         string           `json:"url,omitempty"`
	PageID      string           `json:"page_id,omitempty"`
	FollowUpKey string           `json:"followup_key,omitempty"`
	Target      string           `json:"target,omitempty"`
	For         time.Time        `json:"for,omitzero"`
	Ticket      *incident.Ticket `json:"ticket,omitempty"`
	Text        string           `json:"text,omitempty"`
	Drill       *incident.Drill  `json:"drill,omitempty"`
	Learned     []string         `json:"learned,omitempty"`
}

// Event is the report as the router reads it.
func (r Report) Event() incident.Event {
	return incident.Event{
		Source: incident.SourceHub, ID: r.Key, Type: r.Type, OccurredAt: r.At.UTC(), Actor: r.Actor,
		Subject: incident.FormatRef(r.IncidentID), RecordID: r.IncidentID, IssueNumber: r.IssueNumber,
		URL: r.URL, PageID: r.PageID, FollowUpKey: r.FollowUpKey, Target: r.Target, For: r.For.UTC(),
		Ticket: r.Ticket, Text: r.Text, Drill: r.Drill, Learned: r.Learned,
	}
}

// Appender stores one delivery and reports whether it was new: the
// inbox's writer in a running hub (which wakes the processor), the store
// itself for the CLI.
type Appender interface {
	Append(ctx context.Context, d delivery.Delivery) (bool, error)
}

// Lookup finds a stored delivery; found is false when there is none.
type Lookup interface {
	HubDelivery(ctx context.Context, id string) (d delivery.Delivery, found bool, err error)
}

// Reporter reports what jobs made.
type Reporter struct {
	appender Appender
	lookup   Lookup
}

// NewReporter returns a reporter that stores reports through a and finds
// them again through l.
func NewReporter(a Appender, l Lookup) *Reporter { return &Reporter{appender: a, lookup: l} }

// Report stores r as a hub event. Reporting the same key again stores
// nothing and is no error.
func (rp *Reporter) Report(ctx context.Context, r Report) error {
	_, err := rp.report(ctx, r)
	return err
}

// report stores r and says whether it was new.
func (rp *Reporter) report(ctx context.Context, r Report) (fresh bool, err error) {
	if err := r.valid(); err != nil || r.At.IsZero() {
		return false, fmt.Errorf("report %q: key, type, incident and time are required", r.Key)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("report %s: %w", r.Key, err)
	}
	fresh, err = rp.appender.Append(ctx, delivery.Delivery{
		Source: incident.SourceHub, ID: r.Key, Event: string(r.Type), ReceivedAt: time.Now().UTC(), Body: body,
	})
	if err != nil {
		return false, fmt.Errorf("report %s: %w", r.Key, err)
	}
	return fresh, nil
}

// Reported returns the report stored under key, processed or not: a job
// that made the object and reported it need not make it again.
func (rp *Reporter) Reported(ctx context.Context, key string) (Report, bool, error) {
	d, found, err := rp.lookup.HubDelivery(ctx, key)
	if err != nil || !found {
		return Report{}, false, err
	}
	r, err := decode(d.Body)
	return r, err == nil, err
}

// RecordFailure implements actions.FailureRecorder: a job that failed for
// good goes on its record's timeline, once per job and attempt (a job
// retried by hand that fails again is a new entry).
func (rp *Reporter) RecordFailure(ctx context.Context, f actions.Failure) (bool, error) {
	return rp.report(ctx, Report{
		Key:  RecordKey(incident.EventActionFailed, f.IncidentID, strconv.FormatInt(f.JobID, 10), strconv.Itoa(f.Attempt)),
		Type: incident.EventActionFailed, At: f.At, IncidentID: f.IncidentID, Target: f.Kind,
		Text: fmt.Sprintf("job %d, attempt %d of %d: %s", f.JobID, f.Attempt, f.MaxAttempts, f.Err),
	})
}

var _ actions.FailureRecorder = (*Reporter)(nil)

// Normalizer reads hub events for the pipeline.
type Normalizer struct{}

// Source implements pipeline.Normalizer.
func (Normalizer) Source() incident.Source { return incident.SourceHub }

// Normalize implements pipeline.Normalizer.
func (Normalizer) Normalize(d delivery.Delivery) ([]incident.Event, error) {
	r, err := decode(d.Body)
	if err != nil {
		return nil, err
	}
	if r.Key != d.ID {
		return nil, fmt.Errorf("hub event %s carries key %q", d.ID, r.Key)
	}
	return []incident.Event{r.Event()}, nil
}

func decode(body []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("hub event: %w", err)
	}
	return r, r.valid()
}

// valid checks what every report names. A drill request is the one that
// names no record: it opens one.
func (r Report) valid() error {
	opens := r.Type == incident.EventDrillStarted && r.Drill != nil
	if r.Key == "" || r.Type == "" || r.IncidentID <= 0 && !opens {
		return errors.New("hub event: key, type and incident are required")
	}
	return nil
}

// RecordKey is the key of a report about a record: what was made, for
// which record, and what else it concerns (a page, a change, the
// resolution a summary is for). The job that made it reports the same key
// again however often it runs.
func RecordKey(t incident.EventType, recordID int64, about ...string) string {
	return strings.Join(append([]string{string(t), incident.FormatRef(recordID)}, about...), ":")
}

// FollowUpKey is the key of a report about a follow-up. It carries the
// time the follow-up was asked for: a task-list item withdrawn and asked
// for again has the same follow-up key, and must get reports of its own.
func FollowUpKey(t incident.EventType, f *incident.FollowUp) string {
	return strings.Join([]string{string(t), f.Key, strconv.FormatInt(f.RequestedAt.UnixNano(), 10)}, ":")
}
