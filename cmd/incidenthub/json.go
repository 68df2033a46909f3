package main

import (
	"encoding/json"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// The CLI's --json shapes for what the API does not serve: stable,
// snake_case field names, as the API's (gh and kubectl are the models).

// deliveryJSON is a stored delivery; Body only in `deliveries show`.
type deliveryJSON struct {
	Source      string     `json:"source"`
	ID          string     `json:"id"`
	Event       string     `json:"event,omitempty"`
	ReceivedAt  time.Time  `json:"received_at"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason"`
	WaitsFor    string     `json:"waits_for,omitempty"`
	Attempts    int        `json:"attempts"`
	ProcessedAt *time.Time `json:"processed_at"`
	// Headers are those kept with the delivery, in `deliveries show`.
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
	// BodyText is a body that is not JSON, as it came.
	BodyText string `json:"body_text,omitempty"`
}

func deliveryOf(d delivery.Delivery, withBody bool) deliveryJSON {
	out := deliveryJSON{Source: string(d.Source), ID: d.ID, Event: d.Event, ReceivedAt: d.ReceivedAt, Status: string(d.Status),
		Reason: d.Reason, WaitsFor: d.Subject, Attempts: d.Attempts}
	if !d.ProcessedAt.IsZero() {
		out.ProcessedAt = &d.ProcessedAt
	}
	if withBody {
		out.Headers = d.Headers
		if json.Valid(d.Body) {
			out.Body = d.Body
		} else {
			out.BodyText = string(d.Body)
		}
	}
	return out
}

// jobJSON is an action's job as `actions list` shows it.
type jobJSON struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Incident    string    `json:"incident"`
	State       string    `json:"state"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Why         string    `json:"why"`
}

func jobOf(j *rivertype.JobRow) jobJSON {
	ref := jobIncident(j)
	if ref == "-" {
		ref = ""
	}
	return jobJSON{ID: j.ID, Kind: j.Kind, Incident: ref, State: string(j.State), Attempt: j.Attempt,
		MaxAttempts: j.MaxAttempts, ScheduledAt: j.ScheduledAt, Why: why(j)}
}

// sources are the delivery sources a filter may name.
var sources = []incident.Source{incident.SourcePagerDuty, incident.SourceGitHub, incident.SourceJira, incident.SourceHub}
