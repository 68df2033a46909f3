package router_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// The review lifecycle and follow-up filing, as the jobs report them and
// people ask through the CLI: every transition the router decides.
func TestDecideHubEvents(t *testing.T) {
	t.Parallel()
	r := rules
	r.ReviewOpenAfter, r.ReviewDueWithin, r.ReviewRepo, r.CommentOnChanges = 12*time.Hour, 48*time.Hour, "acme/incidents", true
	r.Severities = []router.Severity{{Name: "SEV2", Review: "required"}, {Name: "SEV3", Review: "optional"}}
	resolved := at("2026-04-01T03:00:00Z")
	now := at("2026-04-02T09:30:15Z")
	base := func(edit func(*incident.Record)) *incident.Record {
		rec := &incident.Record{ID: 12, Title: "Checkout latency", Status: incident.StatusResolved, Kind: incident.KindIncident,
			Severity: "SEV2", Service: "payments", ResolvedAt: resolved,
			Pages:   []*incident.Page{{ID: "PAGE1"}, {ID: "PAGE2"}},
			Changes: []incident.Change{{Key: "pr:88", Kind: incident.ChangeMerge, PRNumber: 88}, {Key: "deploy:1", Kind: incident.ChangeDeploy}}}
		if edit != nil {
			edit(rec)
		}
		return rec
	}
	withDoc := func(rec *incident.Record) {
		rec.ReviewDoc, rec.ReviewDocNumber, rec.Status = "https://github.com/acme/incidents/issues/7", 7, incident.StatusReviewing
	}
	hub := func(typ incident.EventType, edit func(*incident.Event)) incident.Event {
		ev := incident.Event{Source: incident.SourceHub, ID: string(typ) + ":INC-12", Type: typ, OccurredAt: now, RecordID: 12, Subject: "INC-12"}
		if edit != nil {
			edit(&ev)
		}
		return ev
	}
	filing := &incident.FollowUp{IncidentID: 12, Key: "github:task:alert", Title: "Alert", Status: incident.FollowUpOpen,
		Origin: "https://github.com/acme/incidents/issues/7", RequestedAt: now.Add(-time.Hour)}
	filing.TicketLabel = incident.TicketLabelFor(filing)
	began := *filing
	began.FilingSince = now.Add(-time.Minute)
	ticket := &incident.Ticket{ID: "10001", Key: "PAY-1", URL: "https://acme.atlassian.net/browse/PAY-1"}

	for _, tc := range []struct {
		name   string
		state  router.State
		ev     incident.Event
		check  func(t *testing.T, d router.Decision)
		ignore bool
	}{
		{name: "the CLI asks for an optional review: it opens at once, decompression or not",
			state: router.State{Owner: base(func(r *incident.Record) { r.Severity = "SEV3" })},
			ev:    hub(incident.EventReviewRequested, func(e *incident.Event) { e.Actor, e.OccurredAt = "ana", resolved.Add(time.Hour) }),
			check: func(t *testing.T, d router.Decision) {
				require.True(t, d.Record.ReviewRequested)
				require.Equal(t, resolved.Add(time.Hour), d.Record.ReviewOpensAt)
				require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc, RunAt: resolved.Add(time.Hour)}}, d.Actions)
				require.Equal(t, "Review requested by ana", d.Entries[0].Summary)
			}},
		{name: "the CLI asks while the incident is open: the doc opens after it resolves",
			state: router.State{Owner: base(func(r *incident.Record) { r.Status, r.ResolvedAt = incident.StatusOpen, time.Time{} })},
			ev:    hub(incident.EventReviewRequested, nil),
			check: func(t *testing.T, d router.Decision) {
				require.True(t, d.Record.ReviewRequested)
				require.Empty(t, d.Actions)
			}},
		{name: "the CLI asks, the doc exists", state: router.State{Owner: base(withDoc)},
			ev: hub(incident.EventReviewRequested, nil), ignore: true},
		{name: "review opened: reviewing, due, reminder, refresh, notes",
			state: router.State{Owner: base(nil)},
			ev: hub(incident.EventReviewOpened, func(e *incident.Event) {
				e.IssueNumber, e.URL = 7, "https://github.com/acme/incidents/issues/7"
			}),
			check: func(t *testing.T, d router.Decision) {
				due := at("2026-04-04T09:30:15Z")
				require.Equal(t, incident.StatusReviewing, d.Record.Status)
				require.Equal(t, 7, d.Record.ReviewDocNumber)
				require.Equal(t, due, d.Record.ReviewDue, "due from the issue's own creation")
				require.Equal(t, []incident.Action{
					{Kind: incident.ActionReviewReminder, RunAt: due},
					{Kind: incident.ActionReviewDoc},
					{Kind: incident.ActionPageNote, Target: "PAGE1"},
					{Kind: incident.ActionPageNote, Target: "PAGE2"},
					{Kind: incident.ActionChangeNote, Target: "pr:88"},
				}, d.Actions)
				require.Equal(t, incident.TimelineEntry{At: now, Source: "incidenthub", Kind: incident.EntryReviewOpened,
					URL: "https://github.com/acme/incidents/issues/7", Key: "review.opened", Summary: "Review doc opened: acme/incidents#7"}, d.Entries[0])
			}},
		{name: "review opened, reported again", state: router.State{Owner: base(withDoc)},
			ev: hub(incident.EventReviewOpened, func(e *incident.Event) { e.IssueNumber = 7 }), ignore: true},
		{name: "a second review doc is a notice", state: router.State{Owner: base(withDoc)},
			ev: hub(incident.EventReviewOpened, func(e *incident.Event) { e.IssueNumber = 8 }), ignore: true,
			check: func(t *testing.T, d router.Decision) { require.Len(t, d.Notices, 1) }},
		{name: "the summary of a resolution", state: router.State{Owner: base(withDoc)},
			ev: hub(incident.EventReviewSummarised, func(e *incident.Event) { e.For = resolved }),
			check: func(t *testing.T, d router.Decision) {
				require.Equal(t, resolved, d.Record.SummaryFor)
				require.Empty(t, d.Actions)
			}},
		{name: "the reminder posted changes nothing", state: router.State{Owner: base(withDoc)},
			ev:    hub(incident.EventReviewReminded, nil),
			check: func(t *testing.T, d router.Decision) { require.Equal(t, router.Decision{}, d) }},
		{name: "filing begins: the item no longer settles", state: router.State{Owner: base(withDoc), FollowUp: filing},
			ev: hub(incident.EventFollowUpFiling, func(e *incident.Event) { e.FollowUpKey = filing.Key }),
			check: func(t *testing.T, d router.Decision) {
				require.Equal(t, now, d.FollowUps[0].FilingSince)
				require.False(t, d.FollowUps[0].Settling())
				require.Nil(t, d.Record)
			}},
		{name: "filing of a withdrawn item", state: router.State{Owner: base(withDoc)},
			ev: hub(incident.EventFollowUpFiling, func(e *incident.Event) { e.FollowUpKey = filing.Key }), ignore: true},
		{name: "filed: recorded, refresh, reply, a note per page", state: router.State{Owner: base(withDoc), FollowUp: &began},
			ev: hub(incident.EventFollowUpFiled, func(e *incident.Event) { e.FollowUpKey, e.Ticket = filing.Key, ticket }),
			check: func(t *testing.T, d router.Decision) {
				require.Equal(t, "PAY-1", d.FollowUps[0].JiraKey)
				require.Equal(t, incident.EntryFollowUpFiled, d.Entries[0].Kind)
				require.Equal(t, now, d.Entries[0].At)
				require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}, {Kind: incident.ActionFollowUpReply, Target: filing.Key},
					{Kind: incident.ActionPageNote, Target: "PAGE1", FollowUp: filing.Key},
					{Kind: incident.ActionPageNote, Target: "PAGE2", FollowUp: filing.Key}}, d.Actions)
			}},
		{name: "filed, but the ticket's webhook recorded it first",
			state: router.State{Owner: base(withDoc), FollowUp: func() *incident.FollowUp { f := began; f.JiraKey = "PAY-1"; return &f }()},
			ev:    hub(incident.EventFollowUpFiled, func(e *incident.Event) { e.FollowUpKey, e.Ticket = filing.Key, ticket }), ignore: true},
		{name: "linked", state: router.State{Owner: base(withDoc), FollowUp: &began},
			ev:    hub(incident.EventFollowUpLinked, func(e *incident.Event) { e.FollowUpKey = filing.Key }),
			check: func(t *testing.T, d router.Decision) { require.True(t, d.FollowUps[0].Linked) }},
		{name: "an unknown record", ev: hub(incident.EventReviewOpened, nil), ignore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := router.Decide(tc.state, tc.ev, r, now)
			require.Equal(t, tc.ignore, d.Ignore != "", "ignore: %q", d.Ignore)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// The review issue closes the record; reopened, the record is reviewing.
func TestDecideReviewIssueClosesRecord(t *testing.T) {
	t.Parallel()
	r := rules
	r.ReviewRepo = "acme/incidents"
	rec := &incident.Record{ID: 12, Status: incident.StatusReviewing, ReviewDocNumber: 7}
	closed := incident.Event{Source: incident.SourceGitHub, ID: "d1", Type: incident.EventReviewClosed, Subject: "INC-12",
		IssueRepo: "acme/incidents", IssueNumber: 7, OccurredAt: at("2026-04-05T10:00:00Z"), Actor: "ana"}
	d := router.Decide(router.State{Owner: rec}, closed, r, time.Time{})
	require.Equal(t, incident.StatusClosed, d.Record.Status)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}, {Kind: incident.ActionArchiveReview}}, d.Actions,
		"the closed review goes to the incident database")

	reopened := closed
	reopened.ID, reopened.Type = "d2", incident.EventReviewReopened
	d = router.Decide(router.State{Owner: d.Record}, reopened, r, time.Time{})
	require.Equal(t, incident.StatusReviewing, d.Record.Status)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}}, d.Actions)

	drill := *rec
	drill.Kind = incident.KindDrill
	d = router.Decide(router.State{Owner: &drill}, closed, r, time.Time{})
	require.Equal(t, incident.StatusClosed, d.Record.Status)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}}, d.Actions, "a drill's debrief stays out of the incident database")

	other := closed
	other.IssueNumber = 9
	require.NotEmpty(t, router.Decide(router.State{Owner: rec}, other, r, time.Time{}).Ignore, "only its own review issue")
}
