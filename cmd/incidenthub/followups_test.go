package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/api"
)

const jiraSecret = "jira-test-secret-5e0b"

// followUpHub runs the hub against PagerDuty, GitHub and Jira doubles,
// with a resolved incident whose review doc (acme/incidents#1) is open.
func followUpHub(t *testing.T, jobs string, edits ...func(cfg string) string) (path, base string, gh *githubtest.Fake, jira *jiratest.Fake, pd *pagerdutytest.Fake, hub *hubProcess) {
	t.Helper()
	addr := freeAddr(t)
	base = "http://" + addr
	gh, jira, pd = githubtest.New(t), jiratest.New(t), pagerdutytest.New(t)
	path, _ = testConfig(t, addr)
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = []byte(withPagerDutyNotes(string(cfgText), pd.URL))
	cfgText = []byte(strings.Replace(string(cfgText), "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], jira_project: PAY}", 1))
	cfgText = append(cfgText, fmt.Sprintf(`github: {webhook_secrets: [%q], token: "gh-token", base_url: %q, review_repo: acme/incidents}
jira: {webhook_secrets: [%q], base_url: %q, email: bot@example.com, api_token: jira-token, search_lag: 1s}
review: {open_after: 0s}
%s`, githubSecret, gh.URL, jiraSecret, jira.URL, jobs)...)
	for _, edit := range edits {
		cfgText = []byte(edit(string(cfgText)))
	}
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))

	hub = startHub(t, path, base)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(cli(t, "actions", "list", "--all", "--config", path))
		}
	})
	sendResolvedPage(t, path, base)
	require.Eventually(t, func() bool { return len(gh.Issues()) == 1 }, 20*time.Second, 50*time.Millisecond, "the review doc opens")
	// The issue exists before the hub has recorded it: a comment on it
	// delivered sooner would be one on an issue the record does not know.
	require.Eventually(t, func() bool { return incidentJSON(t, base).Links.ReviewDoc != "" }, 20*time.Second, 50*time.Millisecond,
		"the record knows its review doc")
	return path, base, gh, jira, pd, hub
}

func followUpComment(t *testing.T, id int, body string) string {
	return payloadFile(t, "github", "issue_comment.created.json", reviewIssue(map[string]any{"comment.id": id, "comment.body": body}))
}

func incidentJSON(t *testing.T, base string) api.Incident {
	var inc api.Incident
	require.Equal(t, http.StatusOK, getJSON(t, base+"/api/v1/incidents/INC-1", &inc))
	return inc
}

// The whole loop through the real binary: a /followup comment on the
// review issue files exactly one Jira ticket (a redelivery and a repeat
// change nothing), the doc shows it and a reply confirms it; Jira moving
// the ticket to Done ticks its box; closing the review issue closes the
// record, with the follow-up still on it. The page gets a note for the
// review doc and one for the ticket.
func TestFollowUpEndToEnd(t *testing.T) {
	t.Parallel()
	path, base, gh, jira, pd, _ := followUpHub(t, "")
	send := func(source, event, file string) {
		args := []string{"webhook", "send", "--config", path, "--url", base, "--source", source, "--file", file}
		if event != "" {
			args = append(args, "--event", event)
		}
		cli(t, args...)
	}

	comment := followUpComment(t, 501, "Good review.\n/followup Alert on connection pool saturation priority:High")
	send("github", "issue_comment", comment)
	send("github", "issue_comment", comment) // GitHub's redelivery: a new delivery id
	send("github", "issue_comment", followUpComment(t, 502, "/followup alert on connection pool  saturation"))

	require.Eventually(t, func() bool {
		inc := incidentJSON(t, base)
		return len(inc.FollowUps) == 1 && inc.FollowUps[0].JiraKey != ""
	}, 30*time.Second, 50*time.Millisecond, "the follow-up gets its ticket")
	tickets := jira.Issues()
	require.Len(t, tickets, 1, "exactly one ticket")
	ticket := tickets[0]
	require.Equal(t, "PAY-1", ticket.Key)
	require.Equal(t, "High", ticket.Priority)
	require.Subset(t, ticket.Labels, []string{"incidenthub", "inc-1"})
	require.Contains(t, ticket.Description, "https://github.example/acme/incidents/issues/1")
	require.Len(t, ticket.RemoteLinks, 1)
	require.Eventually(t, func() bool { return noteMarkers(pd.Notes("PFQZPSY"))["[incidenthub INC-1 PAY-1]"] == 1 },
		20*time.Second, 50*time.Millisecond, "a note on the page links the ticket")
	require.Len(t, pd.Notes("PFQZPSY"), 3, "the triage note, the review doc's and the ticket's")
	require.Eventually(t, func() bool {
		return strings.Contains(gh.Issues()[1].Body, "- [ ] [PAY-1]("+jira.URL+"/browse/PAY-1): Alert on connection pool saturation")
	}, 20*time.Second, 50*time.Millisecond, "the review doc lists the ticket")
	require.Eventually(t, func() bool {
		cs := gh.Comments(1)
		return len(cs) > 0 && strings.Contains(cs[len(cs)-1], "Filed [PAY-1]")
	}, 20*time.Second, 50*time.Millisecond, "a reply confirms it")

	// Jira reports the ticket done (no published example: the captured
	// status change, edited).
	done := payloadFile(t, "jira", "jira_issue_updated.status-change.json", map[string]any{
		"timestamp": time.Now().UnixMilli(), "issue.id": ticket.ID, "issue.key": ticket.Key,
		"issue.fields.labels": ticket.Labels, "issue.fields.status.name": "Done",
		"issue.fields.status.statusCategory.key": "done", "issue.fields.resolution": map[string]any{"name": "Done"},
	})
	first := cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "jira", "--id", "wh-done-1", "--file", done)
	require.Contains(t, first, "202 Accepted")
	again := cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "jira", "--id", "wh-done-1", "--file", done)
	require.Contains(t, again, `"duplicate":true`, "Jira's retry is answered 2xx, never 409")
	body, err := os.ReadFile(done)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/jira", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("X-Hub-Signature", "sha256=00"+strings.Repeat("ab", 31))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Eventually(t, func() bool {
		return strings.Contains(gh.Issues()[1].Body, "- [x] [PAY-1]")
	}, 20*time.Second, 50*time.Millisecond, "the box is ticked")
	inc := incidentJSON(t, base)
	require.Equal(t, "done", inc.FollowUps[0].Status)
	require.Equal(t, map[string]int{"open": 0, "in_progress": 0, "done": 1, "wont_do": 0}, inc.FollowUpCounts)
	require.Contains(t, cli(t, "followups", "list", "--config", path), "PAY-1")
	require.Contains(t, cli(t, "followups", "list", "--open", "--config", path), "no follow-ups")

	send("github", "issues", payloadFile(t, "github", "issues.opened.json", reviewIssue(map[string]any{
		"action": "closed", "issue.state": "closed", "issue.closed_at": time.Now().UTC().Format(time.RFC3339),
	})))
	require.Eventually(t, func() bool { return incidentJSON(t, base).Status == "closed" }, 20*time.Second, 50*time.Millisecond)
	require.Len(t, incidentJSON(t, base).FollowUps, 1, "the follow-up stays visible on the closed record")
	require.Len(t, jira.Issues(), 1)
}

// The process dies after Jira created the ticket and before the hub
// recorded it. After the restart River rescues the job, which waits out
// Jira's search lag, finds the ticket by its label and adopts it.
func TestKilledAfterJiraCreated(t *testing.T) {
	t.Parallel()
	path, base, _, jira, _, hub := followUpHub(t, "jobs: {timeout: 10s, rescue_after: 10s}\n")
	jira.Faults = []jiratest.Fault{{Op: "create", Effect: true, Stall: 5 * time.Second}}
	cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "issue_comment",
		"--file", followUpComment(t, 601, "/followup Alert on connection pool saturation"))
	require.Eventually(t, func() bool { return jira.Creates() == 1 }, 20*time.Second, 10*time.Millisecond)
	hub.kill() // Jira has the ticket; the hub has not recorded it

	startHub(t, path, base)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(cli(t, "actions", "list", "--all", "--config", path))
		}
	})
	require.Empty(t, incidentJSON(t, base).FollowUps[0].JiraKey, "the kill came before the hub recorded the ticket")
	require.Eventually(t, func() bool { return incidentJSON(t, base).FollowUps[0].JiraKey == "PAY-1" },
		90*time.Second, 100*time.Millisecond, "the rescued job adopts the ticket")
	require.Equal(t, 1, jira.Creates(), "exactly one ticket")
}
