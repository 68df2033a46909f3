package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// BenchmarkDecide measures one acknowledgement on a record that already
// holds a storm of pages.
func BenchmarkDecide(b *testing.B) {
	for _, pages := range []int{1, 50} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			t := &testing.T{}
			w := newWorld()
			trigger := loadPayload(t, "incident.triggered.json")
			for i := range pages {
				w.apply(t, trigger.with(map[string]any{"id": fmt.Sprint("t", i), "data.id": fmt.Sprint("P", i)}).normalize(t))
			}
			ack := loadPayload(t, "incident.acknowledged.json").with(map[string]any{"data.id": "P0"}).normalize(t)
			owner := w.records[1]
			st := router.State{Owner: &owner}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				router.Decide(st, ack, rules, time.Time{})
			}
		})
	}
}

// BenchmarkDecideTicket measures a Jira status change on a record with
// many follow-ups, and a /followup comment that must be checked against
// them all.
func BenchmarkDecideTicket(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("followups=%d", n), func(b *testing.B) {
			t := &testing.T{}
			w := newFollowUpWorld()
			for i := range n {
				f := incident.FollowUp{IncidentID: 1, Key: fmt.Sprint("k", i), Title: fmt.Sprint("follow-up ", i),
					Status: incident.FollowUpOpen, JiraID: fmt.Sprint(20000 + i), JiraKey: fmt.Sprint("PAY-", i)}
				w.followUps = append(w.followUps, f)
			}
			done := jiraEvent(t, "wh-1", "jira_issue_updated.status-change.json", ticket("20000", "PAY-0", "Done", "done", 3000, "inc-1"))
			comment := githubEvent(t, "issue_comment", "issue_comment.created.json", followUpComment("/followup a new one"))
			rec := w.rec.Clone()
			st := router.State{Owner: &rec, FollowUp: &w.followUps[0], FollowUps: w.followUps}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				router.Decide(st, done, w.rules, time.Time{})
				router.Decide(router.State{Owner: &rec, FollowUps: w.followUps}, comment, w.rules, time.Time{})
			}
		})
	}
}
