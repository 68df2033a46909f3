package router_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// followUpWorld holds one record in review and its follow-ups, applied as
// the store would (upsert by key).
type followUpWorld struct {
	rules     router.Rules
	rec       incident.Record
	followUps []incident.FollowUp
	entries   []incident.TimelineEntry
}

func newFollowUpWorld() *followUpWorld {
	r := rules
	r.ReviewRepo, r.JiraProjects, r.TaskSettle = "acme/incidents", []string{"PAY", "OPS"}, 2*time.Minute
	return &followUpWorld{rules: r, rec: incident.Record{
		ID: 1, Title: "Checkout API high latency", Status: incident.StatusReviewing, Service: "payments",
		ReviewDoc: "https://github.com/acme/incidents/issues/7", ReviewDocNumber: 7,
	}}
}

func (w *followUpWorld) apply(t *testing.T, ev incident.Event) router.Decision {
	t.Helper()
	q := router.QueryFor(ev, w.rules)
	var st router.State
	if q.TicketID != "" {
		for i := range w.followUps {
			if w.followUps[i].JiraID == q.TicketID {
				f := w.followUps[i]
				st.FollowUp, q.RecordID = &f, f.IncidentID
			}
		}
	}
	if q.RecordID == w.rec.ID {
		rec := w.rec.Clone()
		st.Owner = &rec
		if q.FollowUps {
			st.FollowUps = slices.Clone(w.followUps)
		}
	}
	d := router.Decide(st, ev, w.rules, time.Time{})
	if d.Record != nil {
		w.rec = d.Record.Clone()
	}
	w.entries = append(w.entries, d.Entries...)
	for _, key := range d.Withdraw {
		w.followUps = slices.DeleteFunc(w.followUps, func(f incident.FollowUp) bool { return f.Key == key && !f.Filed() })
	}
	for _, f := range d.FollowUps {
		if i := slices.IndexFunc(w.followUps, func(o incident.FollowUp) bool { return o.Key == f.Key }); i >= 0 {
			w.followUps[i] = f
		} else {
			w.followUps = append(w.followUps, f)
		}
	}
	return d
}

// githubEvent runs a real GitHub payload, edited, through the connector.
func githubEvent(t *testing.T, event, file string, edit func(p map[string]any)) incident.Event {
	t.Helper()
	evs, err := github.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceGitHub, ID: "guid-" + file, Event: event, Body: edited(t, "github", file, edit)})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	return evs[0]
}

// jiraEvent runs a captured Jira delivery, edited, through the connector.
func jiraEvent(t *testing.T, id, file string, edit func(p map[string]any)) incident.Event {
	t.Helper()
	evs, err := jira.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceJira, ID: id, Body: edited(t, "jira", file, edit)})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	return evs[0]
}

func edited(t *testing.T, vendor, file string, edit func(p map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", vendor, file))
	require.NoError(t, err)
	var p map[string]any
	require.NoError(t, json.Unmarshal(raw, &p))
	edit(p)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

// onReviewDoc makes GitHub's sample issue the review doc of INC-1.
func onReviewDoc(p map[string]any) {
	p["repository"].(map[string]any)["full_name"] = "acme/incidents"
	issue := p["issue"].(map[string]any)
	issue["number"] = 7
	issue["labels"] = []any{map[string]any{"name": "incident"}, map[string]any{"name": "incidenthub:INC-1"}}
}

func followUpComment(body string) func(p map[string]any) {
	return func(p map[string]any) {
		onReviewDoc(p)
		p["comment"].(map[string]any)["body"] = body
	}
}

// ticket edits the captured status change into one of the hub's tickets.
func ticket(id, key, status, category string, ts int64, labels ...string) func(p map[string]any) {
	return func(p map[string]any) {
		p["timestamp"] = ts
		issue := p["issue"].(map[string]any)
		issue["id"], issue["key"] = id, key
		f := issue["fields"].(map[string]any)
		f["project"].(map[string]any)["key"], _, _ = strings.Cut(key, "-")
		f["labels"] = labels
		f["summary"] = "Alert on pool saturation"
		f["status"].(map[string]any)["name"] = status
		f["status"].(map[string]any)["statusCategory"].(map[string]any)["key"] = category
	}
}

func TestFollowUpFromComment(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	ev := githubEvent(t, "issue_comment", "issue_comment.created.json",
		followUpComment("Thanks all.\r\n/followup Alert on pool saturation owner:@ana priority:High type:Bug\n/followup   \n/followup Pair on the pool code"))
	d := w.apply(t, ev)
	require.Empty(t, d.Ignore)
	require.Len(t, w.followUps, 2, "two titled lines, the empty one is not a follow-up")
	f := w.followUps[0]
	require.Equal(t, "Alert on pool saturation", f.Title)
	require.Equal(t, []string{"ana", "High", "Bug"}, []string{f.Owner, f.Priority, f.IssueType})
	require.Equal(t, "Codertocat", f.RequestedBy)
	require.Equal(t, incident.FollowUpOpen, f.Status)
	require.Equal(t, []incident.Action{
		{Kind: incident.ActionFileFollowUp, Target: f.Key},
		{Kind: incident.ActionFileFollowUp, Target: w.followUps[1].Key},
		{Kind: incident.ActionReviewDoc},
	}, d.Actions)
	require.Equal(t, incident.EntryFollowUpRequested, d.Entries[0].Kind)

	// Redelivered, or the same title asked again: nothing new.
	require.NotEmpty(t, w.apply(t, ev).Ignore)
	again := githubEvent(t, "issue_comment", "issue_comment.created.json", func(p map[string]any) {
		followUpComment("/followup  alert on POOL saturation")(p)
		p["comment"].(map[string]any)["id"] = 99
	})
	require.NotEmpty(t, w.apply(t, again).Ignore)
	require.Len(t, w.followUps, 2)
}

// Only the record's own review issue files follow-ups.
func TestFollowUpOnlyFromTheReviewDoc(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	d := w.apply(t, githubEvent(t, "issue_comment", "issue_comment.created.json", func(p map[string]any) {
		followUpComment("/followup Copy of the label")(p)
		p["issue"].(map[string]any)["number"] = 8
	}))
	require.Contains(t, d.Ignore, "is not the review doc of INC-1")
	require.Empty(t, w.followUps)
}

func TestFollowUpFromTaskList(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	edit := func(body string) func(p map[string]any) {
		return func(p map[string]any) {
			onReviewDoc(p)
			p["issue"].(map[string]any)["body"] = body
		}
	}
	body := "## Learnings\n- [ ] not a follow-up\n\n## Follow-ups\n\n- [ ] Alert on pool saturation\n- [x] Already done by hand\n" +
		"<!-- incidenthub:followups:start -->\n- [ ] [PAY-1](https://x.example/browse/PAY-1): Hub item\n<!-- incidenthub:followups:end -->\n\n## Playbook\n- [ ] not one either\n"
	d := w.apply(t, githubEvent(t, "issues", "issues.edited.json", edit(body)))
	require.Empty(t, d.Ignore)
	require.Len(t, w.followUps, 1)
	require.Equal(t, "Alert on pool saturation", w.followUps[0].Title)
	updated := time.Date(2019, 5, 15, 15, 20, 18, 0, time.UTC) // the fixture's updated_at
	require.Equal(t, []incident.Action{{Kind: incident.ActionFileFollowUp, Target: w.followUps[0].Key, RunAt: updated.Add(2 * time.Minute)}},
		d.Actions, "filed after it settles; the line stays where it was written until then")

	// Every edit carries every item; only new ones count.
	body2 := body + "\n## Follow-ups\n- [ ] Second one\n"
	w.apply(t, githubEvent(t, "issues", "issues.edited.json", edit(body2)))
	require.Len(t, w.followUps, 2)
	require.NotEmpty(t, w.apply(t, githubEvent(t, "issues", "issues.edited.json", edit(body2))).Ignore)
}

// The ticket lifecycle: the hub's ticket is recognised by its label even
// before the job recorded it; status moves in the order Jira says things
// happened; late and repeated events change nothing.
func TestFollowUpFollowsItsTicket(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	w.apply(t, githubEvent(t, "issue_comment", "issue_comment.created.json", followUpComment("/followup Alert on pool saturation")))
	w.followUps[0].TicketLabel = "incidenthub-0123456789abcdef" // written by the filing job

	created := jiraEvent(t, "wh-1", "jira_issue_created.json", ticket("10033", "PAY-3", "To Do", "new", 1000, "incidenthub", "inc-1", "incidenthub-0123456789abcdef"))
	d := w.apply(t, created)
	require.Empty(t, d.Ignore)
	require.Len(t, w.followUps, 1, "the hub's own ticket, not a new follow-up")
	require.Equal(t, "PAY-3", w.followUps[0].JiraKey)
	require.Equal(t, incident.EntryFollowUpFiled, d.Entries[0].Kind)
	require.Contains(t, d.Actions, incident.Action{Kind: incident.ActionFollowUpReply, Target: w.followUps[0].Key})

	done := jiraEvent(t, "wh-3", "jira_issue_updated.status-change.json", ticket("10033", "PAY-3", "Done", "done", 3000, "inc-1"))
	progress := jiraEvent(t, "wh-2", "jira_issue_updated.status-change.json", ticket("10033", "PAY-3", "In Progress", "indeterminate", 2000, "inc-1"))
	d = w.apply(t, done)
	require.Equal(t, incident.FollowUpDone, w.followUps[0].Status)
	require.Equal(t, "Follow-up PAY-3 moved to Done by James Williams", d.Entries[0].Summary)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}}, d.Actions, "the doc ticks the box")

	require.Contains(t, w.apply(t, progress).Ignore, "older event", "delivered late, it does not undo Done")
	require.Equal(t, incident.FollowUpDone, w.followUps[0].Status)
	require.Contains(t, w.apply(t, done).Ignore, "nothing the hub follows changed")

	// An edit that changes nothing the hub shows moves only the time of
	// the state: no entry, no doc refresh; an event older than it and
	// delivered after it is then too late.
	edited := jiraEvent(t, "wh-3b", "jira_issue_updated.status-change.json", ticket("10033", "PAY-3", "Done", "done", 3500, "inc-1"))
	d = w.apply(t, edited)
	require.Empty(t, d.Ignore)
	require.Empty(t, d.Entries)
	require.Empty(t, d.Actions)
	require.Equal(t, time.UnixMilli(3500).UTC(), w.followUps[0].StatusAt)
	late := jiraEvent(t, "wh-3c", "jira_issue_updated.status-change.json", ticket("10033", "PAY-3", "In Progress", "indeterminate", 3200, "inc-1"))
	require.Contains(t, w.apply(t, late).Ignore, "older event")

	reopened := jiraEvent(t, "wh-4", "jira_issue_updated.status-change.json", ticket("10033", "PAY-3", "To Do", "new", 4000))
	w.apply(t, reopened)
	require.Equal(t, incident.FollowUpOpen, w.followUps[0].Status, "reopening unticks; the label may be gone")

	comment := jiraEvent(t, "wh-5", "comment_created.json", func(p map[string]any) {
		p["issue"].(map[string]any)["id"] = "10033"
		p["issue"].(map[string]any)["key"] = "PAY-3"
		p["comment"].(map[string]any)["body"] = "Shipped the alert.\nDetails in the PR."
	})
	d = w.apply(t, comment)
	require.Equal(t, incident.EntryFollowUpComment, d.Entries[0].Kind)
	require.Contains(t, d.Entries[0].Summary, "Shipped the alert. …")

	deleted := jiraEvent(t, "wh-6", "jira_issue_updated.status-change.json", func(p map[string]any) {
		ticket("10033", "PAY-3", "To Do", "new", 5000)(p)
		p["webhookEvent"] = "jira:issue_deleted"
	})
	w.apply(t, deleted)
	require.Equal(t, incident.FollowUpWontDo, w.followUps[0].Status)
	require.Equal(t, "Deleted", w.followUps[0].JiraStatus)
}

// A ticket filed by hand with the incident's label is adopted; one
// without it is not the hub's business.
func TestFollowUpAdoptsHandFiledTickets(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	d := w.apply(t, jiraEvent(t, "wh-1", "jira_issue_created.json", ticket("20001", "OPS-9", "To Do", "new", 1000, "inc-1")))
	require.Empty(t, d.Ignore)
	require.Len(t, w.followUps, 1)
	require.Equal(t, "jira:20001", w.followUps[0].Key)
	require.Equal(t, "OPS-9", w.followUps[0].JiraKey)
	require.Equal(t, incident.EntryFollowUpFiled, d.Entries[0].Kind)

	for _, ev := range []incident.Event{
		jiraEvent(t, "wh-2", "jira_issue_created.json", ticket("20002", "OPS-10", "To Do", "new", 1000, "unrelated")),
		jiraEvent(t, "wh-3", "jira_issue_created.json", ticket("20003", "OPS-11", "To Do", "new", 1000, "inc-99")),
		jiraEvent(t, "wh-4", "comment_created.json", func(p map[string]any) {}),
	} {
		require.NotEmpty(t, w.apply(t, ev).Ignore)
	}
	require.Len(t, w.followUps, 1)
}

// A task-list item retyped or removed before its ticket is filed is
// withdrawn: a typo fixed a minute later is one ticket, not two.
func TestFollowUpTaskItemWithdrawnBeforeFiling(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	edit := func(items string) incident.Event {
		return githubEvent(t, "issues", "issues.edited.json", func(p map[string]any) {
			onReviewDoc(p)
			p["issue"].(map[string]any)["body"] = "## Follow-ups\n" + items
		})
	}
	w.apply(t, edit("- [ ] Add alrting\n- [ ] Pair on the pool code\n"))
	require.Len(t, w.followUps, 2)
	w.followUps[1].FilingSince = time.Now() // its job has begun: too late to withdraw

	d := w.apply(t, edit("- [ ] Add alerting\n"))
	require.Len(t, d.Withdraw, 1)
	require.Equal(t, []string{"Pair on the pool code", "Add alerting"}, []string{w.followUps[0].Title, w.followUps[1].Title})
	require.Equal(t, incident.EntryFollowUpWithdrawn, d.Entries[0].Kind)

	// Removing every item withdraws the rest; an edit changing nothing is ignored.
	d = w.apply(t, edit(""))
	require.Len(t, d.Withdraw, 1)
	require.Len(t, w.followUps, 1)
	require.NotEmpty(t, w.apply(t, edit("")).Ignore)
}

// A second ticket carrying one follow-up's label is a duplicate, never a
// follow-up of its own; a label in another case, or a ticket in a project
// no service uses, is not adopted.
func TestFollowUpDuplicatesAndStrangersAreNotAdopted(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	w.apply(t, githubEvent(t, "issue_comment", "issue_comment.created.json", followUpComment("/followup Alert on pool saturation")))
	w.followUps[0].TicketLabel = "incidenthub-0123456789abcdef"
	w.apply(t, jiraEvent(t, "wh-1", "jira_issue_created.json", ticket("10033", "PAY-3", "To Do", "new", 1000, "inc-1", "incidenthub-0123456789abcdef")))
	d := w.apply(t, jiraEvent(t, "wh-2", "jira_issue_created.json", ticket("10034", "PAY-4", "To Do", "new", 1100, "inc-1", "incidenthub-0123456789abcdef")))
	require.Contains(t, d.Ignore, "duplicates PAY-3")
	require.NotEmpty(t, d.Notices)
	for _, ev := range []incident.Event{
		jiraEvent(t, "wh-3", "jira_issue_created.json", ticket("20001", "HR-1", "To Do", "new", 1000, "inc-1")),
		jiraEvent(t, "wh-4", "jira_issue_created.json", ticket("20002", "OPS-2", "To Do", "new", 1000, "INC-1")),
	} {
		require.NotEmpty(t, w.apply(t, ev).Ignore)
	}
	require.Len(t, w.followUps, 1)
	require.Equal(t, "PAY-3", w.followUps[0].JiraKey)
}

// A drill's ticket is marked [DRILL] in Jira; the follow-up on the
// debrief keeps its own title, while a rename in Jira still flows back.
func TestDrillFollowUpTitleFromItsTicket(t *testing.T) {
	t.Parallel()
	w := newFollowUpWorld()
	w.rec.Kind, w.rec.Drill = incident.KindDrill, "5f1c"
	w.apply(t, githubEvent(t, "issue_comment", "issue_comment.created.json", followUpComment("/followup Alert on pool saturation")))
	w.followUps[0].TicketLabel = "incidenthub-0123456789abcdef"
	drillTicket := func(id string, ts int64, summary string) incident.Event {
		return jiraEvent(t, id, "jira_issue_updated.status-change.json", func(p map[string]any) {
			ticket("10033", "OPS-3", "To Do", "new", ts, "incidenthub", "inc-1", "incidenthub-0123456789abcdef")(p)
			p["issue"].(map[string]any)["fields"].(map[string]any)["summary"] = summary
		})
	}
	w.apply(t, drillTicket("wh-1", 1000, "[DRILL] Alert on pool saturation"))
	require.Equal(t, "OPS-3", w.followUps[0].JiraKey)
	w.apply(t, drillTicket("wh-2", 2000, "[DRILL] Alert on pool saturation"))
	require.Equal(t, "Alert on pool saturation", w.followUps[0].Title)
	w.apply(t, drillTicket("wh-3", 3000, "[DRILL] Alert on pool and queue saturation"))
	require.Equal(t, "Alert on pool and queue saturation", w.followUps[0].Title)
}
