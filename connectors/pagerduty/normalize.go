package pagerduty

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// referenceTypes are the event types whose data only refers to a page,
// with the data type each must carry; every other type carries a snapshot
// ("incident").
var referenceTypes = map[incident.EventType]string{
	incident.EventPageNote:           "incident_note",
	incident.EventPageResponderAdded: "incident_responder",
	incident.EventPageStatusUpdate:   "incident_status_update",
	incident.EventPageRoleAssigned:   "incident_role_assignment",
}

// eventTypes maps the v3 event types the hub acts on.
// https://developer.pagerduty.com/docs/webhooks (Overview, event types)
var eventTypes = map[string]incident.EventType{
	"incident.triggered":               incident.EventPageTriggered,
	"incident.acknowledged":            incident.EventPageAcknowledged,
	"incident.unacknowledged":          incident.EventPageUnacknowledged,
	"incident.resolved":                incident.EventPageResolved,
	"incident.reopened":                incident.EventPageReopened,
	"incident.reassigned":              incident.EventPageReassigned,
	"incident.escalated":               incident.EventPageEscalated,
	"incident.priority_updated":        incident.EventPagePriority,
	"incident.annotated":               incident.EventPageNote,
	"incident.responder.added":         incident.EventPageResponderAdded,
	"incident.status_update_published": incident.EventPageStatusUpdate,
	"incident.role.assigned":           incident.EventPageRoleAssigned,
}

// event is a v3 webhook's event; Data is read by parse.
type event struct {
	ID           string     `json:"id"`
	EventType    string     `json:"event_type"`
	ResourceType string     `json:"resource_type"`
	OccurredAt   time.Time  `json:"occurred_at"`
	Agent        *reference `json:"agent"`
}

// envelope is a payload read in one pass, its data as whatever type.
type envelope struct {
	Event *struct {
		event
		Data *eventData `json:"data"`
	} `json:"event"`
}

// rawEnvelope is a payload read part by part: its data once its event
// type says what the data should be.
type rawEnvelope struct {
	Event *struct {
		event
		Data json.RawMessage `json:"data"`
	} `json:"event"`
}

// eventData is event.data whatever its type: the fields the hub reads of
// each type it acts on, which share no name but "type", so that a
// delivery is parsed in one pass rather than once for its envelope, once
// for its data's type and once for its data (BenchmarkNormalize: 24 µs a
// trigger in three passes, 11 µs in one).
type eventData struct {
	Type string `json:"type"`
	incidentData
	referenceData
	roleAssignments
}

type reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	HTMLURL string `json:"html_url"`
	Summary string `json:"summary"`
}

// incidentData is event.data of type "incident": a snapshot of the page.
type incidentData struct {
	ID        string      `json:"id"`
	HTMLURL   string      `json:"html_url"`
	Number    int         `json:"number"`
	Status    string      `json:"status"`
	Title     string      `json:"title"`
	CreatedAt *time.Time  `json:"created_at"`
	Service   reference   `json:"service"`
	Assignees []reference `json:"assignees"`
	Priority  *reference  `json:"priority"`
	Urgency   string      `json:"urgency"`
	// IncidentKey is the de-duplication key (2026 payloads carry it): a
	// drill's page carries the drill's.
	IncidentKey string `json:"incident_key"`
}

// roleAssignments is event.data of incident.role.assigned: one or more
// roles assigned, reassigned or unassigned on one page.
type roleAssignments struct {
	Assignments []struct {
		ID          string     `json:"id"`
		Incident    *reference `json:"incident"`
		Role        *reference `json:"role"`
		Assignee    *reference `json:"assignee"`
		OldAssignee *reference `json:"old_assignee"`
		Status      string     `json:"status"`
	} `json:"incident_role_assignments"`
}

// maxRoleAssignments bounds what one delivery may ask of the router.
const maxRoleAssignments = 50

// referenceData is event.data of the types that only refer to their page:
// incident_note, incident_responder, incident_status_update.
type referenceData struct {
	Incident *reference `json:"incident"`
	Content  string     `json:"content"`
	Message  string     `json:"message"`
	User     *reference `json:"user"`
}

// Normalizer turns stored PagerDuty deliveries into page events.
type Normalizer struct{}

// Source names the deliveries Normalize accepts.
func (Normalizer) Source() incident.Source { return incident.SourcePagerDuty }

// Normalize parses one v3 delivery (exactly one event per payload). Event
// types the hub does not act on are delivery.Ignored; anything malformed is
// an error, and the delivery is kept as unprocessable.
func (Normalizer) Normalize(d delivery.Delivery) ([]incident.Event, error) {
	e, data, err := parse(d.Body)
	if err != nil {
		return nil, err
	}
	typ := eventTypes[e.EventType]
	ev := incident.Event{
		Source:     incident.SourcePagerDuty,
		ID:         e.ID,
		Type:       typ,
		OccurredAt: e.OccurredAt.UTC(),
	}
	if e.Agent != nil {
		ev.Actor = e.Agent.Summary
	}
	// The data type must be the one the event type carries: a signed but
	// inconsistent payload is unprocessable, never half-understood.
	want, isReference := dataType(typ)
	if data.Type != want {
		return nil, fmt.Errorf("PagerDuty %s carries data of type %q, want %q", e.EventType, data.Type, want)
	}
	switch {
	case !isReference:
		return snapshotEvent(ev, &data.incidentData)
	case typ == incident.EventPageRoleAssigned:
		return roleEvents(ev, &data.roleAssignments)
	}
	return referenceEvent(ev, &data.referenceData, data.Type)
}

// dataType is the type of data an event type carries, and whether it only
// refers to its page.
func dataType(typ incident.EventType) (want string, isReference bool) {
	if want, ok := referenceTypes[typ]; ok {
		return want, true
	}
	return "incident", false
}

// parse reads a payload's event and its data. A payload that reads in one
// pass, as nearly all do, is read once. Any other is read part by part, as
// its event type says: the one pass reads every type's fields, and a field
// of another type that does not fit must not fail an event, nor an error
// in the data hide that the event type is one the hub ignores.
func parse(body []byte) (event, *eventData, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err == nil && env.Event != nil && env.Event.Data != nil {
		if err := checkEvent(&env.Event.event); err != nil {
			return event{}, nil, err
		}
		return env.Event.event, env.Event.Data, nil
	}
	var raw rawEnvelope
	if err := json.Unmarshal(body, &raw); err != nil {
		return event{}, nil, fmt.Errorf("not a PagerDuty v3 payload: %w", err)
	}
	if raw.Event == nil {
		return event{}, nil, errors.New("not a PagerDuty v3 payload: no event")
	}
	e := raw.Event.event
	if err := checkEvent(&e); err != nil {
		return event{}, nil, err
	}
	data := &eventData{}
	if err := json.Unmarshal(raw.Event.Data, &struct {
		Type *string `json:"type"`
	}{&data.Type}); err != nil {
		return event{}, nil, fmt.Errorf("PagerDuty %s data: %w", e.EventType, err)
	}
	typ := eventTypes[e.EventType]
	want, isReference := dataType(typ)
	var into any
	switch {
	case data.Type != want:
		return e, data, nil // Normalize says what is wrong
	case !isReference:
		into = &data.incidentData
	case typ == incident.EventPageRoleAssigned:
		into = &data.roleAssignments
	default:
		into = &data.referenceData
	}
	if err := json.Unmarshal(raw.Event.Data, into); err != nil {
		return event{}, nil, fmt.Errorf("PagerDuty %s data: %w", want, err)
	}
	return e, data, nil
}

// checkEvent refuses an event without what every event has, and ignores
// one of a type the hub does not act on.
func checkEvent(e *event) error {
	if e.ID == "" || e.EventType == "" || e.OccurredAt.IsZero() {
		return errors.New("PagerDuty event lacks id, event_type or occurred_at")
	}
	if _, ok := eventTypes[e.EventType]; !ok {
		return delivery.Ignored("PagerDuty event type %s is not one the hub acts on", e.EventType)
	}
	return nil
}

func snapshotEvent(ev incident.Event, data *incidentData) ([]incident.Event, error) {
	if data.ID == "" || data.Service.ID == "" {
		return nil, errors.New("PagerDuty incident data lacks id or service")
	}
	p := &incident.Page{
		ID:          data.ID,
		Number:      data.Number,
		Title:       data.Title,
		URL:         data.HTMLURL,
		ServiceID:   data.Service.ID,
		ServiceName: data.Service.Summary,
		Status:      incident.PageStatus(data.Status),
		Urgency:     data.Urgency,
	}
	switch p.Status {
	case incident.PageTriggered, incident.PageAcknowledged, incident.PageResolved:
	default:
		return nil, fmt.Errorf("PagerDuty incident %s has unknown status %q", data.ID, data.Status)
	}
	if data.Priority != nil {
		p.Priority = data.Priority.Summary
	}
	if data.CreatedAt != nil {
		p.TriggeredAt = data.CreatedAt.UTC()
	}
	for _, a := range data.Assignees {
		p.Assignees = append(p.Assignees, a.Summary)
	}
	ev.PageID, ev.PageURL, ev.Snapshot = data.ID, data.HTMLURL, p
	if _, _, ok := incident.ParseDrillDedupKey(data.IncidentKey); ok {
		// Only a drill's key is kept: any other is the alert source's
		// business, and may be long.
		ev.IncidentKey = data.IncidentKey
	}
	return []incident.Event{ev}, nil
}

func referenceEvent(ev incident.Event, data *referenceData, dataType string) ([]incident.Event, error) {
	if data.Incident == nil || data.Incident.ID == "" {
		return nil, fmt.Errorf("PagerDuty %s data lacks its incident", dataType)
	}
	ev.PageID, ev.PageURL = data.Incident.ID, data.Incident.HTMLURL
	switch dataType {
	case "incident_note":
		ev.Text = data.Content
	case "incident_status_update":
		ev.Text = data.Message
	case "incident_responder":
		ev.Text = data.Message
		if data.User != nil {
			ev.Subject = data.User.Summary
		}
	}
	return []incident.Event{ev}, nil
}

// roleEvents makes one event per role assignment. An assignment without
// an assignee, or whose status is not active, unassigns the role. Each
// event's id is the webhook event's and the assignment's, so that every
// assignment is on the timeline once.
func roleEvents(ev incident.Event, data *roleAssignments) ([]incident.Event, error) {
	if len(data.Assignments) == 0 || len(data.Assignments) > maxRoleAssignments {
		return nil, fmt.Errorf("PagerDuty incident_role_assignment data has %d assignments, want 1 to %d",
			len(data.Assignments), maxRoleAssignments)
	}
	out := make([]incident.Event, 0, len(data.Assignments))
	for i, a := range data.Assignments {
		if a.Incident == nil || a.Incident.ID == "" || a.Role == nil || (a.Role.ID == "" && a.Role.Summary == "") {
			return nil, fmt.Errorf("PagerDuty role assignment %d lacks its incident or role", i)
		}
		if i > 0 && a.Incident.ID != out[0].PageID {
			return nil, errors.New("PagerDuty role assignments of one event name different incidents")
		}
		e := ev
		e.ID = ev.ID + "/" + cmp.Or(a.ID, strconv.Itoa(i))
		e.PageID, e.PageURL = a.Incident.ID, a.Incident.HTMLURL
		rc := &incident.RoleChange{ID: a.Role.ID, Name: cmp.Or(a.Role.Summary, a.Role.ID)}
		if a.Assignee != nil && a.Status == "active" {
			rc.Person = cmp.Or(a.Assignee.Summary, a.Assignee.ID)
		}
		if a.OldAssignee != nil {
			rc.Before = cmp.Or(a.OldAssignee.Summary, a.OldAssignee.ID)
		}
		e.Role = rc
		out = append(out, e)
	}
	return out, nil
}
