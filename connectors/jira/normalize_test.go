package jira_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// fixture reads a captured Jira Cloud delivery (testdata/jira, see its
// README), edited in test code where no real example exists.
func fixture(t *testing.T, name string, edit func(p map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jira", name))
	require.NoError(t, err)
	if edit == nil {
		return raw
	}
	var p map[string]any
	require.NoError(t, json.Unmarshal(raw, &p))
	edit(p)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

func normalize(body []byte) ([]incident.Event, error) {
	return jira.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceJira, ID: "wh-1", Body: body})
}

func fields(p map[string]any) map[string]any {
	return p["issue"].(map[string]any)["fields"].(map[string]any)
}

func TestNormalizeStatusChange(t *testing.T) {
	t.Parallel()
	evs, err := normalize(fixture(t, "jira_issue_updated.status-change.json", nil))
	require.NoError(t, err)
	require.Equal(t, []incident.Event{{
		Source: incident.SourceJira, ID: "wh-1", Type: incident.EventFollowUpUpdated,
		OccurredAt: time.UnixMilli(1485797534721).UTC(), Actor: "James Williams",
		Ticket: &incident.Ticket{
			ID: "10000", Key: "TEST-1", URL: "https://zulipp.atlassian.net/browse/TEST-1", Project: "ABC",
			Summary: "Fix That", Labels: []string{}, Status: "In Progress", StatusCategory: "indeterminate",
		},
	}}, evs)
	require.Equal(t, incident.FollowUpInProgress, incident.FollowUpStatusOf(evs[0].Ticket))
}

func TestNormalizeCreatedAndDone(t *testing.T) {
	t.Parallel()
	evs, err := normalize(fixture(t, "jira_issue_created.json", nil))
	require.NoError(t, err)
	require.Equal(t, "KAN-3", evs[0].Ticket.Key)
	require.Equal(t, "To Do", evs[0].Ticket.Status)
	require.Equal(t, incident.FollowUpOpen, incident.FollowUpStatusOf(evs[0].Ticket))

	// No published example moves a ticket to Done: edit the status change.
	for resolution, want := range map[string]incident.FollowUpStatus{"Done": incident.FollowUpDone, "Won't Do": incident.FollowUpWontDo} {
		evs, err = normalize(fixture(t, "jira_issue_updated.status-change.json", func(p map[string]any) {
			f := fields(p)
			f["status"].(map[string]any)["name"] = "Done"
			f["status"].(map[string]any)["statusCategory"].(map[string]any)["key"] = "done"
			f["resolution"] = map[string]any{"name": resolution}
			f["labels"] = []string{"incidenthub", "inc-12"}
		}))
		require.NoError(t, err)
		require.Equal(t, want, incident.FollowUpStatusOf(evs[0].Ticket), resolution)
		require.Equal(t, []string{"incidenthub", "inc-12"}, evs[0].Ticket.Labels)
	}
}

func TestNormalizeDeletedAndComment(t *testing.T) {
	t.Parallel()
	evs, err := normalize(fixture(t, "jira_issue_updated.status-change.json", func(p map[string]any) {
		p["webhookEvent"] = "jira:issue_deleted"
	}))
	require.NoError(t, err)
	require.True(t, evs[0].Ticket.Deleted)
	require.Equal(t, incident.FollowUpWontDo, incident.FollowUpStatusOf(evs[0].Ticket))

	evs, err = normalize(fixture(t, "comment_created.json", nil))
	require.NoError(t, err)
	require.Equal(t, incident.EventFollowUpComment, evs[0].Type)
	require.Equal(t, "ZUL-1", evs[0].Ticket.Key)
	require.NotEmpty(t, evs[0].Text)
	require.Equal(t, time.UnixMilli(1546892751184).UTC(), evs[0].OccurredAt)

	// A v3 hook sends the comment as an Atlassian Document.
	evs, err = normalize(fixture(t, "comment_created.json", func(p map[string]any) {
		p["comment"].(map[string]any)["body"] = map[string]any{"type": "doc", "version": 1, "content": []any{
			map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "Fixed in"}, map[string]any{"type": "text", "text": " PR 88"}}},
		}}
	}))
	require.NoError(t, err)
	require.Equal(t, "Fixed in PR 88", evs[0].Text)
}

func TestNormalizeRefusesOrIgnores(t *testing.T) {
	t.Parallel()
	_, err := normalize(fixture(t, "comment_created.json", func(p map[string]any) { p["webhookEvent"] = "worklog_updated" }))
	require.True(t, delivery.IsIgnored(err), "an event the hub does not act on is ignored: %v", err)
	for _, restrict := range []func(c map[string]any){
		func(c map[string]any) { c["visibility"] = map[string]any{"type": "role", "value": "Administrators"} },
		func(c map[string]any) { c["jsdPublic"] = false },
	} {
		_, err = normalize(fixture(t, "comment_created.json", func(p map[string]any) { restrict(p["comment"].(map[string]any)) }))
		require.True(t, delivery.IsIgnored(err), "a restricted comment is never echoed: %v", err)
	}
	_, err = normalize([]byte(`{"webhookEvent":"jira:issue_updated"`))
	require.Error(t, err)
	require.False(t, delivery.IsIgnored(err), "malformed is kept as unprocessable")
	_, err = normalize(fixture(t, "jira_issue_created.json", func(p map[string]any) { delete(p, "issue") }))
	require.ErrorContains(t, err, "lacks its issue")
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := fixture(t, "jira_issue_created.json", nil)
	v := jira.NewVerifier(config.Secrets("old", "new"))
	h := http.Header{}
	require.False(t, v.Signed(h))
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"current secret", jira.Sign("new", body), true},
		{"previous secret, while rotating", jira.Sign("old", body), true},
		{"other secret", jira.Sign("other", body), false},
		{"no scheme", jira.Sign("new", body)[len("sha256="):], false},
		{"sha1", "sha1=" + jira.Sign("new", body)[len("sha256="):], false},
		{"not hex", "sha256=zz", false},
	} {
		h.Set(jira.SignatureHeader, tc.header)
		require.Equal(t, tc.ok, v.Verify(h, body), tc.name)
	}
	h.Set(jira.SignatureHeader, jira.Sign("", body))
	require.False(t, jira.NewVerifier(config.Secrets("")).Verify(h, body), "an empty secret verifies nothing")
	h.Set(jira.IdentifierHeader, "5f5b2d2e-1")
	id, _ := v.Identify(h)
	require.Equal(t, "5f5b2d2e-1", id)
}
