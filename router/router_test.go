package router_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// Each real payload on its own, as the first event the hub sees.
func TestDecideSinglePayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file       string
		status     incident.Status
		severity   string
		service    string
		opened     time.Time
		commander  string
		responders []string
		kinds      []string
	}{
		{
			file: "incident.triggered.json", status: incident.StatusOpen, severity: "SEV2", service: "payments",
			opened: at("2021-06-04T13:35:29.781Z"), responders: []string{"PIG 208"},
			kinds: []string{incident.EntryPageTriggered},
		},
		{
			file: "incident.acknowledged.json", status: incident.StatusAcknowledged, severity: "SEV2", service: "payments",
			opened: at("2021-06-04T13:55:30.394Z"), commander: "PIG 208", responders: []string{"PIG 208"},
			kinds: []string{incident.EntryPageAcknowledged},
		},
		{
			file: "incident.resolved.json", status: incident.StatusResolved, severity: "SEV2", service: "payments",
			opened: at("2021-06-04T13:16:53.816Z"),
			kinds:  []string{incident.EntryPageResolved},
		},
		{
			file: "incident.reassigned.json", status: incident.StatusOpen, severity: "SEV2", service: "payments",
			opened: at("2021-06-04T10:17:54.838Z"), responders: []string{"Test User"},
			kinds: []string{incident.EntryPageReassigned},
		},
		{
			// 2026 payloads carry created_at: the record opens when the page began.
			file: "incident.escalated.json", status: incident.StatusOpen, severity: "SEV1", service: "checkout",
			opened: at("2026-04-01T02:07:30Z"), responders: []string{"Harsh Santwani"},
			kinds: []string{incident.EntryPageEscalated},
		},
		{
			file: "incident.reopened.json", status: incident.StatusOpen, severity: "SEV3", service: "checkout",
			opened: at("2026-03-30T13:37:07Z"), responders: []string{"Harsh Santwani"},
			kinds: []string{incident.EntryPageReopened},
		},
		{
			file: "incident.priority_updated.json", status: incident.StatusOpen, severity: "SEV2", service: "checkout",
			opened: at("2026-04-01T02:07:30Z"), responders: []string{"Harsh Santwani"},
			kinds: []string{incident.EntryPagePriority},
		},
		{
			// PagerDuty's documented example comes from a service the config does not list.
			file: "docs.incident.priority_updated.json", status: incident.StatusOpen, severity: "SEV1", service: incident.UnmappedService,
			opened: at("2020-04-09T15:16:27Z"), responders: []string{"User 123"},
			kinds: []string{incident.EntryServiceUnmapped, incident.EntryPagePriority},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			w := newWorld()
			d := w.apply(t, loadPayload(t, tc.file).normalize(t))
			require.True(t, d.Opened)
			rec := w.records[1]
			require.Equal(t, tc.status, rec.Status)
			require.Equal(t, tc.severity, rec.Severity)
			require.Equal(t, tc.service, rec.Service)
			require.Equal(t, tc.opened, rec.OpenedAt)
			require.Equal(t, tc.commander, rec.Commander)
			require.Equal(t, tc.responders, rec.Responders)
			require.Equal(t, tc.kinds, w.kinds(1))
			require.Len(t, rec.Pages, 1)
		})
	}
}

func TestDecideUnmappedServiceSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld()
	d := w.apply(t, loadPayload(t, "docs.incident.priority_updated.json").normalize(t))
	require.Len(t, d.Notices, 1)
	require.Contains(t, d.Notices[0], "PF9KMXH")
	require.Equal(t, "unmapped:PF9KMXH", w.records[1].CorrelationKey)
}

// Two unknown PagerDuty services never merge into one record.
func TestDecideUnmappedServicesDoNotMerge(t *testing.T) {
	t.Parallel()
	w := newWorld()
	p := loadPayload(t, "docs.incident.priority_updated.json")
	w.apply(t, p.normalize(t))
	w.apply(t, p.with(map[string]any{
		"id": "other-event", "data.id": "QOTHER",
		"data.service": map[string]any{"id": "PUNKNOWN", "summary": "Other", "type": "service_reference"},
	}).normalize(t))
	require.Len(t, w.records, 2)
}

// A page acknowledged, then resolved: the whole lifecycle of one page.
func TestDecideLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld()
	page := map[string]any{"data.id": "PFQZPSY", "data.number": 9, "data.title": "Test Incident 3"}
	trigger := loadPayload(t, "incident.triggered.json")
	ack := loadPayload(t, "incident.acknowledged.json").with(page)
	resolve := loadPayload(t, "incident.resolved.json").with(page).with(map[string]any{"occurred_at": "2021-06-04T14:20:00Z"})

	w.apply(t, trigger.normalize(t))
	require.Equal(t, incident.StatusOpen, w.records[1].Status)
	w.apply(t, ack.normalize(t))
	require.Equal(t, incident.StatusAcknowledged, w.records[1].Status)
	w.apply(t, resolve.normalize(t))

	rec := w.records[1]
	require.Len(t, w.records, 1)
	require.Equal(t, incident.StatusResolved, rec.Status)
	require.Equal(t, "PIG 208", rec.Commander)
	require.Equal(t, at("2021-06-04T13:35:29.781Z"), rec.OpenedAt)
	require.Equal(t, at("2021-06-04T13:55:30.394Z"), rec.AcknowledgedAt)
	require.Equal(t, at("2021-06-04T14:20:00Z"), rec.ResolvedAt)
	require.Equal(t, []string{
		incident.EntryPageTriggered,
		incident.EntryPageAcknowledged, incident.EntryStatusChanged,
		incident.EntryPageResolved, incident.EntryStatusChanged,
	}, w.kinds(1))
}

// A page storm on one service is one incident; a page past the merge
// window opens another.
func TestDecidePageStorm(t *testing.T) {
	t.Parallel()
	w := newWorld()
	trigger := loadPayload(t, "incident.triggered.json")
	for i, p := range []struct{ id, at string }{
		{"PAGE1", "2021-06-04T13:35:00Z"},
		{"PAGE2", "2021-06-04T13:40:00Z"},
		{"PAGE3", "2021-06-04T14:04:00Z"},
	} {
		d := w.apply(t, trigger.with(map[string]any{"id": "ev" + p.id, "occurred_at": p.at, "data.id": p.id}).normalize(t))
		require.Equal(t, i == 0, d.Opened, p.id)
	}
	require.Len(t, w.records, 1)
	require.Len(t, w.records[1].Pages, 3)

	w.apply(t, trigger.with(map[string]any{"id": "evLATE", "occurred_at": "2021-06-04T14:06:00Z", "data.id": "PAGE4"}).normalize(t))
	require.Len(t, w.records, 2, "a page 31 minutes after the record opened starts a new one")
}

// A record resolves only when every one of its pages has.
func TestDecideStormResolvesWithLastPage(t *testing.T) {
	t.Parallel()
	w := newWorld()
	trigger := loadPayload(t, "incident.triggered.json")
	resolve := loadPayload(t, "incident.resolved.json")
	w.apply(t, trigger.with(map[string]any{"id": "t1", "occurred_at": "2021-06-04T13:35:00Z", "data.id": "PAGE1"}).normalize(t))
	w.apply(t, trigger.with(map[string]any{"id": "t2", "occurred_at": "2021-06-04T13:36:00Z", "data.id": "PAGE2"}).normalize(t))

	w.apply(t, resolve.with(map[string]any{"id": "r1", "occurred_at": "2021-06-04T13:50:00Z", "data.id": "PAGE1"}).normalize(t))
	require.Equal(t, incident.StatusOpen, w.records[1].Status)
	w.apply(t, resolve.with(map[string]any{"id": "r2", "occurred_at": "2021-06-04T13:55:00Z", "data.id": "PAGE2"}).normalize(t))
	require.Equal(t, incident.StatusResolved, w.records[1].Status)
	require.Equal(t, at("2021-06-04T13:55:00Z"), w.records[1].ResolvedAt)
}

// A resolve delivered before its trigger ends in the right state.
func TestDecideResolveBeforeTrigger(t *testing.T) {
	t.Parallel()
	w := newWorld()
	page := map[string]any{"data.id": "PFQZPSY"}
	w.apply(t, loadPayload(t, "incident.resolved.json").with(page).with(map[string]any{"occurred_at": "2021-06-04T14:20:00Z"}).normalize(t))
	d := w.apply(t, loadPayload(t, "incident.triggered.json").normalize(t))

	require.False(t, d.Opened)
	rec := w.records[1]
	require.Equal(t, incident.StatusResolved, rec.Status, "the older trigger must not reopen the record")
	require.Equal(t, at("2021-06-04T13:35:29.781Z"), rec.OpenedAt, "the record opened when the page began")
	require.Equal(t, at("2021-06-04T14:20:00Z"), rec.ResolvedAt)
	require.Equal(t, []string{incident.EntryPageTriggered, incident.EntryPageResolved}, w.kinds(1))
}

// An older snapshot delivered late does not overwrite a newer one.
func TestDecideLateOlderSnapshot(t *testing.T) {
	t.Parallel()
	w := newWorld()
	w.apply(t, loadPayload(t, "incident.acknowledged.json").with(map[string]any{"data.id": "PFQZPSY"}).normalize(t))
	w.apply(t, loadPayload(t, "incident.triggered.json").normalize(t))
	rec := w.records[1]
	require.Equal(t, incident.StatusAcknowledged, rec.Status)
	require.Equal(t, incident.PageAcknowledged, rec.Pages[0].Status)
}

// The first to acknowledge leads, even if their acknowledgement arrives last.
func TestDecideCommanderIsFirstAcknowledger(t *testing.T) {
	t.Parallel()
	w := newWorld()
	ack := loadPayload(t, "incident.acknowledged.json")
	w.apply(t, ack.with(map[string]any{
		"id": "late-ack", "occurred_at": "2021-06-04T13:58:00Z", "data.id": "PAGE2",
		"agent": map[string]any{"id": "PB", "type": "user_reference", "summary": "Bea"},
	}).normalize(t))
	w.apply(t, ack.with(map[string]any{"id": "early-ack", "occurred_at": "2021-06-04T13:50:00Z"}).normalize(t))

	rec := w.records[1]
	require.Equal(t, "PIG 208", rec.Commander)
	require.Equal(t, at("2021-06-04T13:50:00Z"), rec.AcknowledgedAt)
	require.ElementsMatch(t, []string{"Bea", "PIG 208"}, rec.Responders)
}

// The same event delivered twice changes nothing the second time.
func TestDecideDuplicateEventIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"incident.triggered.json", "incident.acknowledged.json", "incident.resolved.json",
		"incident.escalated.json", "incident.priority_updated.json", "incident.reopened.json",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			w := newWorld()
			ev := loadPayload(t, file).normalize(t)
			w.apply(t, ev)
			first := w.records[1].Clone()
			entries := len(w.entries[1])

			d := w.apply(t, ev)
			require.False(t, d.Opened)
			require.Equal(t, first, w.records[1])
			require.Len(t, w.entries[1], entries)
		})
	}
}

// A priority change moves the severity, and says so on the timeline.
func TestDecidePriorityChangesSeverity(t *testing.T) {
	t.Parallel()
	w := newWorld()
	escalated := loadPayload(t, "incident.escalated.json") // P1, 02:08:04
	w.apply(t, escalated.with(map[string]any{"data.priority": nil, "data.urgency": "low"}).normalize(t))
	require.Equal(t, "SEV4", w.records[1].Severity)

	d := w.apply(t, loadPayload(t, "incident.priority_updated.json").normalize(t)) // P2, 02:15:36
	require.Equal(t, "SEV2", w.records[1].Severity)
	var summaries []string
	for _, e := range d.Entries {
		summaries = append(summaries, e.Kind+": "+e.Summary)
	}
	require.Contains(t, summaries, "severity.changed: Severity SEV4 → SEV2 (#5: priority P2, high urgency)")
}

// A record's severity is the most severe of its pages'.
func TestDecideSeverityIsMostSevereOfPages(t *testing.T) {
	t.Parallel()
	w := newWorld()
	trigger := loadPayload(t, "incident.triggered.json")
	w.apply(t, trigger.with(map[string]any{"id": "a", "data.id": "A", "data.urgency": "low"}).normalize(t))
	require.Equal(t, "SEV4", w.records[1].Severity)
	w.apply(t, trigger.with(map[string]any{"id": "b", "data.id": "B", "data.priority": map[string]any{"summary": "P1"}}).normalize(t))
	require.Equal(t, "SEV1", w.records[1].Severity)
	w.apply(t, trigger.with(map[string]any{"id": "c", "data.id": "C", "data.priority": map[string]any{"summary": "P3"}}).normalize(t))
	require.Equal(t, "SEV1", w.records[1].Severity)
}

func TestDecideReopenAfterResolve(t *testing.T) {
	t.Parallel()
	w := newWorld()
	page := map[string]any{"data.id": "Q05XJA8GDXGOB3", "data.created_at": "2026-03-30T13:37:07Z"}
	w.apply(t, loadPayload(t, "incident.resolved.json").with(page).with(map[string]any{"occurred_at": "2026-04-01T02:00:00Z"}).normalize(t))
	require.Equal(t, incident.StatusResolved, w.records[1].Status)

	w.apply(t, loadPayload(t, "incident.reopened.json").normalize(t))
	rec := w.records[1]
	require.Equal(t, incident.StatusOpen, rec.Status)
	require.True(t, rec.ResolvedAt.IsZero())
}

// Notes, responders and status updates refer to a page; before the page
// is known they wait, after it they land on its record.
func TestDecideReferenceEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file      string
		edits     map[string]any
		kind      string
		summary   string
		responder string
	}{
		{file: "incident.annotated.json", kind: incident.EntryNote,
			summary: "Note by Harsh Santwani on #5: Running KILL on long-running queries from the reporting-service."},
		{file: "incident.status_update_published.json", kind: incident.EntryStatusUpdate,
			summary: "Status update by Harsh Santwani: Investigating a P1 incident with the Checkout API in us-east-1. Customers may see 504 errors or delays during purchase. We've identified a database lock and are working on a fix. Expected remediation within 30 minutes; next update at 08:15 UTC."},
		{file: "incident.responder.added.json", kind: incident.EntryPageResponderAdded,
			// Someone who is not an assignee, so that only the event adds them.
			edits:   map[string]any{"data.user": map[string]any{"id": "PADA", "type": "user_reference", "summary": "Ada Lovelace"}},
			summary: "Ada Lovelace asked to respond to #5 by Harsh Santwani", responder: "Ada Lovelace"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			w := newWorld()
			ev := loadPayload(t, tc.file).with(tc.edits).normalize(t)
			d := w.apply(t, ev)
			require.Equal(t, "PagerDuty incident Q3B15VLMF3ASBD is not known yet", d.Defer)
			require.Nil(t, d.Record)

			w.apply(t, loadPayload(t, "incident.escalated.json").normalize(t)) // the same page, Q3B15VLMF3ASBD
			d = w.apply(t, ev)
			require.NotNil(t, d.Record)
			require.Equal(t, tc.kind, d.Entries[0].Kind)
			require.Equal(t, tc.summary, d.Entries[0].Summary)
			require.Contains(t, w.records[1].Responders, "Harsh Santwani")
			if tc.responder != "" {
				require.Contains(t, w.records[1].Responders, tc.responder)
			}
		})
	}
}

// Events from a source without rules are ignored, not errors.
func TestDecideUnknownSourceIsIgnored(t *testing.T) {
	t.Parallel()
	w := newWorld()
	d := w.apply(t, incident.Event{Source: "elsewhere", ID: "x", Type: "thing.happened"})
	require.NotEmpty(t, d.Ignore)
	require.Nil(t, d.Record)
}

func TestReviewActions(t *testing.T) {
	t.Parallel()
	r := rules
	r.ReviewOpenAfter = 12 * time.Hour
	r.Severities = []router.Severity{
		{Name: "SEV1", Review: "required", ReviewOpenAfter: time.Hour},
		{Name: "SEV2", Review: "required"},
		{Name: "SEV3", Review: "optional"},
		{Name: "SEV4", Review: "none"},
	}
	resolved := at("2021-06-04T14:00:00Z")
	rec := func(sev string, st incident.Status, requested bool, doc int) *incident.Record {
		out := &incident.Record{Severity: sev, Status: st, Kind: incident.KindIncident, ReviewRequested: requested, ReviewDocNumber: doc}
		if st == incident.StatusResolved {
			out.ResolvedAt = resolved
		}
		return out
	}
	open, done := incident.StatusOpen, incident.StatusResolved
	for _, tc := range []struct {
		name          string
		before, after *incident.Record
		want          []incident.Action
	}{
		{"required, resolves", rec("SEV2", open, false, 0), rec("SEV2", done, false, 0),
			[]incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(12 * time.Hour)}}},
		{"the severity's own decompression", rec("SEV1", open, false, 0), rec("SEV1", done, false, 0),
			[]incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(time.Hour)}}},
		{"required, resolved before", rec("SEV2", done, false, 0), rec("SEV2", done, false, 0), nil},
		{"still open", rec("SEV2", open, false, 0), rec("SEV2", open, false, 0), nil},
		{"optional, not asked", rec("SEV3", open, false, 0), rec("SEV3", done, false, 0), nil},
		{"optional, asked after resolving", rec("SEV3", done, false, 0), rec("SEV3", done, true, 0),
			[]incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(12 * time.Hour)}}},
		{"optional, asked while open, then resolves", rec("SEV3", open, true, 0), rec("SEV3", done, true, 0),
			[]incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(12 * time.Hour)}}},
		{"none", rec("SEV4", open, false, 0), rec("SEV4", done, false, 0), nil},
		{"none, but asked", rec("SEV4", done, false, 0), rec("SEV4", done, true, 0),
			[]incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(12 * time.Hour)}}},
		{"the doc exists: bring it up to date", rec("SEV2", done, false, 7), rec("SEV2", done, false, 7),
			[]incident.Action{{Kind: incident.ActionReviewDoc}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, r.ReviewActions(tc.before, tc.after))
		})
	}
}

// A "/review" note on a page asks for a review.
func TestReviewRequestedByNote(t *testing.T) {
	t.Parallel()
	w := newWorld()
	w.apply(t, loadPayload(t, "incident.escalated.json").normalize(t))
	w.apply(t, loadPayload(t, "incident.annotated.json").with(map[string]any{"data.content": " /review "}).normalize(t))
	require.True(t, w.records[1].ReviewRequested)
}

// A page that joins a record whose review doc exists gets its note.
func TestLatePageGetsItsNote(t *testing.T) {
	t.Parallel()
	w := newWorld()
	trigger := loadPayload(t, "incident.triggered.json")
	w.apply(t, trigger.normalize(t))
	rec := w.records[1]
	rec.ReviewDocNumber = 7
	w.records[1] = rec
	d := w.apply(t, trigger.with(map[string]any{"id": "late", "data.id": "PLATE"}).normalize(t))
	require.Contains(t, d.Actions, incident.Action{Kind: incident.ActionPageNote, Target: "PLATE"})
	require.Contains(t, d.Actions, incident.Action{Kind: incident.ActionReviewDoc})
}

// A page delivered after another page's resolve was decided still joins
// the storm it was part of: the record was active when the page started,
// as a live delivery would have found it.
func TestDecideLatePageJoinsTheStormItStarted(t *testing.T) {
	t.Parallel()
	w := newWorld()
	trigger := loadPayload(t, "incident.triggered.json")
	w.apply(t, trigger.with(map[string]any{"id": "ev1", "occurred_at": "2021-06-04T13:35:00Z", "data.id": "PAGE1"}).normalize(t))
	w.apply(t, loadPayload(t, "incident.resolved.json").with(map[string]any{"id": "ev2", "occurred_at": "2021-06-04T14:20:00Z",
		"data.id": "PAGE1"}).normalize(t))
	require.Equal(t, incident.StatusResolved, w.records[1].Status)

	d := w.apply(t, trigger.with(map[string]any{"id": "ev3", "occurred_at": "2021-06-04T13:40:00Z", "data.id": "PAGE2"}).normalize(t))
	require.False(t, d.Opened, "PAGE2 started while the record was still open")
	require.Len(t, w.records, 1)
	require.Len(t, w.records[1].Pages, 2)
	require.Equal(t, incident.StatusOpen, w.records[1].Status, "active again with its triggered page")

	w.apply(t, loadPayload(t, "incident.resolved.json").with(map[string]any{"id": "ev4", "occurred_at": "2021-06-04T14:25:00Z",
		"data.id": "PAGE2"}).normalize(t))
	d = w.apply(t, trigger.with(map[string]any{"id": "ev5", "occurred_at": "2021-06-04T14:30:00Z", "data.id": "PAGE3"}).normalize(t))
	require.True(t, d.Opened, "a page after the record resolved starts a new one")
}
