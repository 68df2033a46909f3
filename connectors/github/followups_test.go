package github_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func TestParseFollowUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want incident.FollowUpRequest
		ok   bool
	}{
		{"/followup Alert on pool saturation", incident.FollowUpRequest{Title: "Alert on pool saturation"}, true},
		{"  /followup owner:@ana Alert  on pool priority:High type:Bug ", incident.FollowUpRequest{Title: "Alert on pool", Owner: "ana", Priority: "High", IssueType: "Bug"}, true},
		{"/followup owner:ana Pair up", incident.FollowUpRequest{Title: "Pair up", Owner: "ana"}, true},
		// Not options: kept in the title as written.
		{"/followup Check priority:\"High\" owner:@-bad", incident.FollowUpRequest{Title: "Check priority:\"High\" owner:@-bad"}, true},
		{"/followup", incident.FollowUpRequest{}, false},
		{"/followup priority:High", incident.FollowUpRequest{Priority: "High"}, false},
		{"/followups are great", incident.FollowUpRequest{}, false},
		{"please /followup later", incident.FollowUpRequest{}, false},
	} {
		got, ok := github.ParseFollowUp(tc.line)
		require.Equal(t, tc.ok, ok, tc.line)
		if ok {
			require.Equal(t, tc.want, got, tc.line)
		}
	}
	long, ok := github.ParseFollowUp("/followup " + strings.Repeat("word ", 100))
	require.True(t, ok)
	require.LessOrEqual(t, len([]rune(long.Title)), 200, "within Jira's summary")
}

// The hub's reply neither pings nor links what people wrote.
func TestReplyIsInert(t *testing.T) {
	t.Parallel()
	f := &incident.FollowUp{Title: "@acme/oncall fix #12 ![x](https://e.example/b.png)", RequestedBy: "@ana",
		JiraKey: "PAY-3", JiraURL: "https://acme.atlassian.net/browse/PAY-3"}
	reply := github.Reply(f)
	require.Contains(t, reply, "[PAY-3](https://acme.atlassian.net/browse/PAY-3)")
	require.NotContains(t, reply, "@acme")
	require.NotContains(t, reply, "#12")
	require.NotContains(t, reply, "![")
}

// The confirmation is posted once, however often its job runs.
func TestReplyOnce(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.settle(t) // the review issue exists: #1
	f := incident.FollowUp{IncidentID: b.id, Key: "github:comment:5:0", Title: "Alert on pool saturation", Status: incident.FollowUpOpen,
		RequestedBy: "ana", RequestedAt: time.Now(), JiraID: "10001", JiraKey: "PAY-1", JiraURL: "https://acme.atlassian.net/browse/PAY-1"}
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error { return tx.SaveFollowUp(context.Background(), &f) }))

	hc := httpclient.New(httpclient.Options{Retries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond, Timeout: 300 * time.Millisecond})
	client, err := github.NewClient(reviewConfig(b.fake.URL).GitHub, hc)
	require.NoError(t, err)
	issues := github.NewIssues(client, "acme/incidents", github.NewWriteGate())
	github.SetIssuesSleep(issues, func(context.Context, time.Duration) {})
	w := github.NewReplyWorker(issues, b.store, b.hub.Reporter, slog.New(slog.DiscardHandler))
	job := &river.Job[github.FollowUpReplyArgs]{JobRow: &rivertype.JobRow{}, Args: github.FollowUpReplyArgs{IncidentID: b.id, FollowUpKey: f.Key}}
	before := len(b.fake.Comments(1))
	b.fake.Faults = []githubtest.Fault{{Op: "comment", Status: 502, Effect: true}}
	require.Error(t, w.Work(context.Background(), job))
	require.NoError(t, w.Work(context.Background(), job))
	require.NoError(t, w.Work(context.Background(), job))
	comments := b.fake.Comments(1)
	require.Len(t, comments, before+1)
	require.Contains(t, comments[len(comments)-1], "Filed [PAY-1](https://acme.atlassian.net/browse/PAY-1)")
}

// Only people who may write to the repository file tickets, one comment
// files a bounded number, and examples in code fences are not commands.
func TestFollowUpCommentGuards(t *testing.T) {
	t.Parallel()
	comment := func(association, body string) []byte {
		return edit(t, readFixture(t, "issue_comment.created.json"), func(p map[string]any) {
			p["repository"].(map[string]any)["full_name"] = "acme/incidents"
			p["issue"].(map[string]any)["labels"] = []any{map[string]any{"name": "incidenthub:INC-1"}}
			c := p["comment"].(map[string]any)
			c["author_association"], c["body"] = association, body
		})
	}
	_, err := normalize("issue_comment", comment("NONE", "/followup Drop the database"))
	require.True(t, delivery.IsIgnored(err), "%v", err)
	require.ErrorContains(t, err, "only the repository's owners, members and collaborators")

	evs, err := normalize("issue_comment", comment("MEMBER", "Use it like this:\n```\n/followup Example only\n```\n/followup Real one"))
	require.NoError(t, err)
	require.Len(t, evs[0].FollowUps, 1)
	require.Equal(t, "Real one", evs[0].FollowUps[0].Title)

	evs, err = normalize("issue_comment", comment("OWNER", strings.Repeat("/followup again\n", 50)))
	require.NoError(t, err)
	require.Len(t, evs[0].FollowUps, 20)
}
