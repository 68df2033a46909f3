package pagerduty_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

func normalize(body []byte) ([]incident.Event, error) {
	return pagerduty.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourcePagerDuty, Body: body})
}

// Every real payload parses, in both the 2021 and the 2026 shapes.
func TestNormalizeRealPayloads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		typ      incident.EventType
		occurred string
		page     string
		actor    string
		snapshot bool
		status   incident.PageStatus
		priority string
		created  string
		text     string
	}{
		{file: "incident.triggered.json", typ: incident.EventPageTriggered, occurred: "2021-06-04T13:35:29.781Z",
			page: "PFQZPSY", actor: "PIG 208", snapshot: true, status: incident.PageTriggered},
		{file: "incident.acknowledged.json", typ: incident.EventPageAcknowledged, occurred: "2021-06-04T13:55:30.394Z",
			page: "PQ1K5C8", actor: "PIG 208", snapshot: true, status: incident.PageAcknowledged},
		{file: "incident.resolved.json", typ: incident.EventPageResolved, occurred: "2021-06-04T13:16:53.816Z",
			page: "PCPZE64", actor: "PIG 208", snapshot: true, status: incident.PageResolved},
		{file: "incident.reassigned.json", typ: incident.EventPageReassigned, occurred: "2021-06-04T10:17:54.838Z",
			page: "PIQUG8X", actor: "PIG 208", snapshot: true, status: incident.PageTriggered},
		{file: "incident.escalated.json", typ: incident.EventPageEscalated, occurred: "2026-04-01T02:08:04.642Z",
			page: "Q3B15VLMF3ASBD", actor: "Harsh Santwani", snapshot: true, status: incident.PageTriggered,
			priority: "P1", created: "2026-04-01T02:07:30Z"},
		{file: "incident.reopened.json", typ: incident.EventPageReopened, occurred: "2026-04-01T02:15:02.274Z",
			page: "Q05XJA8GDXGOB3", actor: "Harsh Santwani", snapshot: true, status: incident.PageTriggered,
			priority: "P3", created: "2026-03-30T13:37:07Z"},
		{file: "incident.priority_updated.json", typ: incident.EventPagePriority, occurred: "2026-04-01T02:15:36.315Z",
			page: "Q3B15VLMF3ASBD", actor: "Harsh Santwani", snapshot: true, status: incident.PageTriggered,
			priority: "P2", created: "2026-04-01T02:07:30Z"},
		{file: "docs.incident.priority_updated.json", typ: incident.EventPagePriority, occurred: "2020-10-02T18:45:22.169Z",
			page: "PGR0VU2", actor: "Tenex Engineer", snapshot: true, status: incident.PageTriggered,
			priority: "P1", created: "2020-04-09T15:16:27Z"},
		{file: "incident.annotated.json", typ: incident.EventPageNote, occurred: "2026-04-01T02:18:59.674Z",
			page: "Q3B15VLMF3ASBD", actor: "Harsh Santwani",
			text: "Running KILL on long-running queries from the reporting-service."},
		{file: "incident.responder.added.json", typ: incident.EventPageResponderAdded, occurred: "2026-04-01T02:20:14.737Z",
			page: "Q3B15VLMF3ASBD", actor: "Harsh Santwani",
			text: `Please help with "Critical: Checkout API High Latency"`},
		{file: "incident.status_update_published.json", typ: incident.EventPageStatusUpdate, occurred: "2026-04-01T02:17:41.211Z",
			page: "Q3B15VLMF3ASBD", actor: "Harsh Santwani",
			text: "Investigating a P1 incident with the Checkout API in us-east-1. Customers may see 504 errors or delays during purchase. We've identified a database lock and are working on a fix. Expected remediation within 30 minutes; next update at 08:15 UTC."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			evs, err := normalize(readFile(t, tc.file))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			ev := evs[0]
			require.Equal(t, incident.SourcePagerDuty, ev.Source)
			require.NotEmpty(t, ev.ID)
			require.Equal(t, tc.typ, ev.Type)
			require.Equal(t, mustTime(t, tc.occurred), ev.OccurredAt)
			require.Equal(t, tc.page, ev.PageID)
			require.NotEmpty(t, ev.PageURL)
			require.Equal(t, tc.actor, ev.Actor)
			require.Equal(t, tc.text, ev.Text)
			require.Equal(t, tc.snapshot, ev.Snapshot != nil)
			if !tc.snapshot {
				return
			}
			require.Equal(t, tc.status, ev.Snapshot.Status)
			require.Equal(t, tc.priority, ev.Snapshot.Priority)
			require.NotEmpty(t, ev.Snapshot.ServiceID)
			require.Equal(t, optionalTime(t, tc.created), ev.Snapshot.TriggeredAt)
		})
	}
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		ignored bool
	}{
		{name: "not JSON", body: "<html>"},
		{name: "no event", body: `{"messages":[]}`},
		{name: "no event id", body: `{"event":{"event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident"}}}`},
		{name: "no occurred_at", body: `{"event":{"id":"e","event_type":"incident.triggered","data":{"type":"incident"}}}`},
		{name: "incident without id", body: `{"event":{"id":"e","event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident","service":{"id":"S"}}}}`},
		{name: "unknown page status", body: `{"event":{"id":"e","event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident","id":"P","status":"exploded","service":{"id":"S"}}}}`},
		{name: "note without incident", body: `{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident_note","content":"x"}}}`},
		// A snapshot event carrying reference data: signed but inconsistent.
		{name: "priority update with note data", body: `{"event":{"id":"e","event_type":"incident.priority_updated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident_note","incident":{"id":"P"},"content":"x"}}}`},
		{name: "note with snapshot data", body: `{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident","id":"P","status":"triggered","service":{"id":"S"}}}}`},
		{name: "unknown event type", body: `{"event":{"id":"e","event_type":"incident.delegated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident"}}}`, ignored: true},
		{name: "webhook ping", body: `{"event":{"id":"e","event_type":"pagey.ping","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"ping"}}}`, ignored: true},
		// Data is read in one pass as any type the hub acts on: an event it
		// ignores is ignored whatever its data holds, and one it acts on
		// whose data does not fit is unprocessable.
		{name: "unknown event type, data of other shapes", body: `{"event":{"id":"e","event_type":"service.updated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"service","status":{"x":1},"incident":"P","number":"12","incident_role_assignments":{}}}}`, ignored: true},
		{name: "unknown event type, data not an object", body: `{"event":{"id":"e","event_type":"service.updated","occurred_at":"2021-06-04T13:35:29Z","data":"service"}}`, ignored: true},
		{name: "trigger whose number is text", body: `{"event":{"id":"e","event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident","id":"P","number":"12","status":"triggered","service":{"id":"S"}}}}`},
		{name: "trigger without data", body: `{"event":{"id":"e","event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z"}}`},
		{name: "occurred_at not a time", body: `{"event":{"id":"e","event_type":"service.updated","occurred_at":12,"data":{"type":"service"}}}`},
		{name: "unknown event type, bad created_at", body: `{"event":{"id":"e","event_type":"service.updated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"service","created_at":""}}}`, ignored: true},
		{name: "unknown event type, bad agent", body: `{"event":{"id":"e","event_type":"service.updated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"service","number":"12"},"agent":"x"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := normalize([]byte(tc.body))
			require.Error(t, err)
			require.Empty(t, evs)
			require.Equal(t, tc.ignored, delivery.IsIgnored(err), err.Error())
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

func optionalTime(t *testing.T, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	return mustTime(t, s)
}

// roleDelivery wraps PagerDuty's documented incident_role_assignment data
// in the v3 envelope of its documented priority_updated event, as
// PagerDuty sends incident.role.assigned; edit changes the data first.
func roleDelivery(t *testing.T, edit func(data map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, "docs.incident.priority_updated.json"), &env))
	var data map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, "docs.data-types.incident_role_assignment.json"), &data))
	if edit != nil {
		edit(data)
	}
	event := env["event"].(map[string]any)
	event["event_type"], event["data"] = "incident.role.assigned", data
	body, err := json.Marshal(env)
	require.NoError(t, err)
	return body
}

func TestNormalizeRoleAssignment(t *testing.T) {
	t.Parallel()
	evs, err := normalize(roleDelivery(t, nil))
	require.NoError(t, err)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, incident.EventPageRoleAssigned, ev.Type)
	require.Equal(t, "5ac64822-4adc-4fda-ade0-410becf0de4f/af64b84c-137e-40c6-875c-5dd30a2afaaa", ev.ID)
	require.Equal(t, "PBAZLIU", ev.PageID)
	require.Equal(t, "https://acme.pagerduty.com/incidents/PBAZLIU", ev.PageURL)
	require.Nil(t, ev.Snapshot)
	require.Equal(t, &incident.RoleChange{ID: "P8PQO4R", Name: "Role Display Name", Person: "User 1810194"}, ev.Role)

	// Unassigned: no assignee, the old one named.
	evs, err = normalize(roleDelivery(t, func(data map[string]any) {
		a := data["incident_role_assignments"].([]any)[0].(map[string]any)
		a["old_assignee"], a["assignee"] = a["assignee"], nil
	}))
	require.NoError(t, err)
	require.Equal(t, &incident.RoleChange{ID: "P8PQO4R", Name: "Role Display Name", Before: "User 1810194"}, evs[0].Role)

	for name, edit := range map[string]func(map[string]any){
		"no assignments": func(d map[string]any) { d["incident_role_assignments"] = []any{} },
		"no role":        func(d map[string]any) { delete(d["incident_role_assignments"].([]any)[0].(map[string]any), "role") },
		"no incident":    func(d map[string]any) { delete(d["incident_role_assignments"].([]any)[0].(map[string]any), "incident") },
		"two incidents": func(d map[string]any) {
			list := d["incident_role_assignments"].([]any)
			other := map[string]any{}
			for k, v := range list[0].(map[string]any) {
				other[k] = v
			}
			other["incident"] = map[string]any{"id": "POTHER"}
			d["incident_role_assignments"] = append(list, other)
		},
	} {
		_, err := normalize(roleDelivery(t, edit))
		require.Error(t, err, name)
		require.False(t, delivery.IsIgnored(err), name)
	}
}

// A payload is read as the type its event says: a field that only another
// type has, whatever it holds, is not its concern (the one-pass read
// reads every type's fields, and falls back to reading by type).
func TestNormalizeReadsItsTypesFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, page string
	}{
		{"note with a snapshot's fields of other shapes", `{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident_note","incident":{"id":"P1"},"content":"x","created_at":"2021-06-04 13:35","number":"1","status":{},"service":"S"}}}`, "P1"},
		{"trigger with a note's fields of other shapes", `{"event":{"id":"e","event_type":"incident.triggered","occurred_at":"2021-06-04T13:35:29Z","data":{"type":"incident","id":"P2","status":"triggered","service":{"id":"S"},"incident":"x","message":{}}}}`, "P2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := normalize([]byte(tc.body))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, tc.page, evs[0].PageID)
		})
	}
}
