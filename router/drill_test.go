package router_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// drillStarted is what `incidenthub drill` stores.
func drillStarted(dr incident.Drill, at time.Time) incident.Event {
	return incident.Event{Source: incident.SourceHub, ID: "drill.started:" + dr.Key, Type: incident.EventDrillStarted,
		OccurredAt: at, Actor: "ana", Subject: "INC-0", Drill: &dr}
}

func drillEnded(id int64, at time.Time) incident.Event {
	ref := incident.FormatRef(id)
	return incident.Event{Source: incident.SourceHub, ID: "drill.ended:" + ref, Type: incident.EventDrillEnded,
		OccurredAt: at, Actor: "ana", Subject: ref, RecordID: id}
}

// A dry drill opens a drill record of its own and ends by the CLI; its
// debrief opens at once.
func TestDrillDry(t *testing.T) {
	t.Parallel()
	w := newWorld()
	w.rules.Severities[1].Review = "required"
	start := at("2026-04-01T10:00:00Z")
	d := w.apply(t, drillStarted(incident.Drill{Key: "a1b2", Service: "payments", Title: "Card payments time out", Severity: "SEV2"}, start))
	require.True(t, d.Opened)
	require.Empty(t, d.Actions, "a dry drill pages nobody")
	rec := w.records[1]
	require.Equal(t, incident.KindDrill, rec.Kind)
	require.Equal(t, "[DRILL] Card payments time out", rec.Title)
	require.Equal(t, "SEV2", rec.Severity)
	require.Equal(t, incident.StatusOpen, rec.Status)
	require.Equal(t, "a1b2", rec.Drill)
	require.Equal(t, "drill:a1b2", rec.CorrelationKey, "no real page correlates with a drill")

	// A real page on the same service at the same time opens a real incident.
	w.apply(t, loadPayload(t, "incident.triggered.json").with(map[string]any{"occurred_at": "2026-04-01T10:05:00Z"}).normalize(t))
	require.Len(t, w.records, 2)
	require.Equal(t, incident.KindIncident, w.records[2].Kind)
	require.Empty(t, w.records[1].Pages)

	end := start.Add(20 * time.Minute)
	d = w.apply(t, drillEnded(1, end))
	rec = w.records[1]
	require.Equal(t, incident.StatusResolved, rec.Status)
	require.Equal(t, end, rec.ResolvedAt)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc, RunAt: end}}, d.Actions, "the debrief opens at once")
	require.Equal(t, []string{incident.EntryDrillStarted, incident.EntryDrillEnded}, w.kinds(1))

	d = w.apply(t, drillEnded(1, end.Add(time.Minute)))
	require.NotEmpty(t, d.Ignore, "a drill ends once")
	d = w.apply(t, drillEnded(2, end))
	require.Contains(t, d.Ignore, "not a drill")
}

// A paged drill asks PagerDuty to page; the page's webhooks, which carry
// the drill's dedup key, join the drill whatever their service, and
// resolve it.
func TestDrillPaged(t *testing.T) {
	t.Parallel()
	w := newWorld()
	start := at("2026-04-01T02:00:00Z")
	d := w.apply(t, drillStarted(incident.Drill{Key: "c3d4", Service: "payments", Title: "Checkout is slow", Page: true}, start))
	require.Equal(t, []incident.Action{{Kind: incident.ActionDrillPage, Target: "trigger"}}, d.Actions)
	rec := w.records[1]
	require.Equal(t, "SEV4", rec.Severity, "the least severe unless chosen")
	key := incident.DrillDedupKey(&rec)
	require.Equal(t, "incidenthub-drill:INC-1:c3d4", key)

	// PagerDuty's incident on checkout's service, opened by the drill's event.
	trigger := loadPayload(t, "incident.escalated.json").with(map[string]any{"data.incident_key": key})
	d = w.apply(t, trigger.normalize(t))
	require.False(t, d.Opened)
	require.Len(t, w.records, 1, "the drill's page opens nothing else")
	rec = w.records[1]
	require.Len(t, rec.Pages, 1)
	require.Equal(t, incident.KindDrill, rec.Kind)
	require.Equal(t, "[DRILL] Checkout is slow", rec.Title, "a drill keeps its title")
	require.Equal(t, incident.StatusOpen, rec.Status)

	// Delivered again, and acknowledged: still one record, one page.
	w.apply(t, trigger.normalize(t))
	w.apply(t, loadPayload(t, "incident.priority_updated.json").with(map[string]any{"data.incident_key": key}).normalize(t))
	require.Len(t, w.records, 1)
	require.Len(t, w.records[1].Pages, 1)

	d = w.apply(t, drillEnded(1, at("2026-04-01T03:00:00Z")))
	require.Equal(t, []incident.Action{{Kind: incident.ActionDrillPage, Target: "resolve"}}, d.Actions)
	require.Equal(t, incident.StatusOpen, w.records[1].Status, "a paged drill resolves with its page")
	resolved := loadPayload(t, "incident.escalated.json").with(map[string]any{"data.incident_key": key,
		"data.status": "resolved", "event_type": "incident.resolved", "id": "RESOLVED1", "occurred_at": "2026-04-01T03:00:05Z"})
	d = w.apply(t, resolved.normalize(t))
	require.Equal(t, incident.StatusResolved, w.records[1].Status)
	require.Contains(t, d.Actions, incident.Action{Kind: incident.ActionReviewDoc, RunAt: at("2026-04-01T03:00:05Z")})
}

// A page whose dedup key names a drill this hub did not start (another
// hub's, a typo, a forgery) joins no record: it is ignored, and said so.
func TestDrillKeyOfAnotherDrill(t *testing.T) {
	t.Parallel()
	w := newWorld()
	w.apply(t, drillStarted(incident.Drill{Key: "e5f6", Service: "payments"}, at("2026-04-01T02:00:00Z")))
	w.apply(t, loadPayload(t, "incident.triggered.json").normalize(t)) // INC-2, a real incident
	for _, key := range []string{"incidenthub-drill:INC-1:other", "incidenthub-drill:INC-2:e5f6", "incidenthub-drill:INC-9:e5f6"} {
		d := w.apply(t, loadPayload(t, "incident.escalated.json").with(map[string]any{"data.incident_key": key}).normalize(t))
		require.NotEmpty(t, d.Ignore, key)
		require.Len(t, d.Notices, 1, key)
	}
	require.Empty(t, w.records[1].Pages)
	require.Len(t, w.records[2].Pages, 1)
	// Any other incident_key is PagerDuty's business.
	d := w.apply(t, loadPayload(t, "incident.escalated.json").normalize(t))
	require.True(t, d.Opened)
}

// The archive job reports where the review went and what people wrote;
// the record keeps both, with one timeline entry however often it closes.
func TestReviewArchived(t *testing.T) {
	t.Parallel()
	rec := &incident.Record{ID: 12, Status: incident.StatusClosed, Kind: incident.KindIncident}
	archived := func(path string, learned ...string) incident.Event {
		return incident.Event{Source: incident.SourceHub, ID: "review.archived:INC-12:1", Type: incident.EventReviewArchived,
			OccurredAt: at("2026-04-05T10:00:00Z"), RecordID: 12, Subject: "INC-12", Target: path, Learned: learned,
			URL: "https://github.com/acme/incidents/blob/main/" + path}
	}
	d := router.Decide(router.State{Owner: rec}, archived("reviews/2026/INC-12-checkout.md", "surprised"), rules, time.Time{})
	require.Equal(t, "reviews/2026/INC-12-checkout.md", d.Record.Archived)
	require.Equal(t, []string{"surprised"}, d.Record.Learned)
	require.Len(t, d.Entries, 1)
	require.Equal(t, incident.EntryReviewArchived, d.Entries[0].Kind)

	again := router.Decide(router.State{Owner: d.Record}, archived("reviews/2026/INC-12-checkout.md", "surprised"), rules, time.Time{})
	require.NotEmpty(t, again.Ignore)
	later := router.Decide(router.State{Owner: d.Record}, archived("reviews/2026/INC-12-checkout.md", "surprised", "who_knew"), rules, time.Time{})
	require.Equal(t, []string{"surprised", "who_knew"}, later.Record.Learned, "closed again after more was written")
	require.Empty(t, later.Entries)
}

// A scenario's steps are scheduled from the drill's start; each lands on
// the timeline once as it plays, and none after the drill ended.
func TestDrillScenarioSteps(t *testing.T) {
	t.Parallel()
	w := newWorld()
	start := at("2026-04-01T10:00:00Z")
	d := w.apply(t, drillStarted(incident.Drill{Key: "s1", Service: "payments", Steps: []incident.DrillStep{
		{After: 0, Kind: incident.StepDeploy, Summary: "Deploy of acme/payments@f95f852"},
		{After: 20 * time.Minute, Kind: incident.StepNote, Summary: "Pool graph looks odd"},
	}}, start))
	require.Equal(t, []incident.Action{
		{Kind: incident.ActionDrillStep, RunAt: start, Target: "0", Text: "Deploy of acme/payments@f95f852", StepKind: incident.StepDeploy},
		{Kind: incident.ActionDrillStep, RunAt: start.Add(20 * time.Minute), Target: "1", Text: "Pool graph looks odd", StepKind: incident.StepNote},
	}, d.Actions)
	step := func(target, text string, at time.Time) router.Decision {
		return w.apply(t, incident.Event{Source: incident.SourceHub, ID: "drill.step:INC-1:" + target, Type: incident.EventDrillStep,
			OccurredAt: at, RecordID: 1, Subject: "INC-1", Target: target, Text: text})
	}
	step("deploy:0", "Deploy of acme/payments@f95f852", start)
	step("deploy:0", "Deploy of acme/payments@f95f852", start.Add(time.Second)) // the job ran again
	require.Equal(t, []string{incident.EntryDrillStarted, incident.EntryChange}, w.kinds(1))
	w.apply(t, drillEnded(1, start.Add(10*time.Minute)))
	require.NotEmpty(t, step("note:1", "Pool graph looks odd", start.Add(20*time.Minute)).Ignore, "the drill ended")
}

// A paged drill ended before its page's webhook came (the trigger held or
// retrying) still asks PagerDuty to resolve it, and resolves at once.
func TestDrillEndedBeforeItsPageCame(t *testing.T) {
	t.Parallel()
	w := newWorld()
	start := at("2026-04-01T02:00:00Z")
	w.apply(t, drillStarted(incident.Drill{Key: "d7", Service: "payments", Page: true}, start))
	d := w.apply(t, drillEnded(1, start.Add(time.Minute)))
	require.Equal(t, incident.StatusResolved, w.records[1].Status)
	require.Equal(t, []incident.Action{{Kind: incident.ActionDrillPage, Target: "resolve"},
		{Kind: incident.ActionReviewDoc, RunAt: start.Add(time.Minute)}}, d.Actions)
}
