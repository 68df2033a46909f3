package github_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", name))
	require.NoError(t, err)
	return raw
}

// edit changes fields of a real payload in test code, where GitHub
// published no example (a merged pull request, a failed deployment).
func edit(t *testing.T, raw []byte, fn func(p map[string]any)) []byte {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal(raw, &p))
	fn(p)
	out, err := json.Marshal(p)
	require.NoError(t, err)
	return out
}

func normalize(event string, body []byte) ([]incident.Event, error) {
	return github.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceGitHub, ID: "guid-1", Event: event, Body: body})
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestNormalizeChanges(t *testing.T) {
	t.Parallel()
	merged := edit(t, readFixture(t, "pull_request.closed.json"), func(p map[string]any) {
		pr := p["pull_request"].(map[string]any)
		pr["merged"], pr["merged_at"] = true, "2019-05-15T15:20:40Z"
	})
	for _, tc := range []struct {
		name  string
		event string
		body  []byte
		want  incident.Change
	}{
		{name: "deployment created", event: "deployment", body: readFixture(t, "deployment.created.json"), want: incident.Change{
			Key: "github:deployment:codertocat/hello-world:145988746", Kind: incident.ChangeDeploy, Repo: "Codertocat/Hello-World",
			Ref: "master", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Environment: "production", State: "created",
			Actor: "Codertocat", URL: "https://github.com/Codertocat/Hello-World/deployments",
			At: ts("2019-05-15T15:20:53Z"), StateAt: ts("2019-05-15T15:20:53Z"),
		}},
		{name: "deployment status success", event: "deployment_status", body: readFixture(t, "deployment_status.created.json"), want: incident.Change{
			Key: "github:deployment:codertocat/hello-world:145988746", Kind: incident.ChangeDeploy, Repo: "Codertocat/Hello-World",
			Ref: "master", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Environment: "production", State: "success",
			Actor: "Codertocat", URL: "https://github.com/Codertocat/Hello-World/deployments",
			At: ts("2019-05-15T15:20:55Z"), StateAt: ts("2019-05-15T15:20:55Z"), SucceededAt: ts("2019-05-15T15:20:55Z"),
		}},
		{name: "merged pull request", event: "pull_request", body: merged, want: incident.Change{
			Key: "github:pull:codertocat/hello-world:2", Kind: incident.ChangeMerge, Repo: "Codertocat/Hello-World",
			Ref: "master", SHA: "c4295bd74fb0f4fda03689c3df3f2803b658fd85", State: "merged", Actor: "Codertocat",
			Title: "Update the README with new information.", URL: "https://github.com/Codertocat/Hello-World/pull/2",
			PRNumber: 2, Labels: []string{"bug"}, At: ts("2019-05-15T15:20:40Z"), StateAt: ts("2019-05-15T15:20:40Z"),
		}},
		{name: "release published", event: "release", body: readFixture(t, "release.published.json"), want: incident.Change{
			Key: "github:release:codertocat/hello-world:17372790", Kind: incident.ChangeRelease, Repo: "Codertocat/Hello-World",
			Ref: "0.0.1", SHA: "master", State: "published", Actor: "Codertocat", Title: "0.0.1",
			URL: "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1",
			At:  ts("2019-05-15T15:20:53Z"), StateAt: ts("2019-05-15T15:20:53Z"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := normalize(tc.event, tc.body)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, incident.EventChange, evs[0].Type)
			require.Equal(t, "guid-1", evs[0].ID)
			require.Equal(t, tc.want, *evs[0].Change)
		})
	}
}

func TestNormalizeOtherShapes(t *testing.T) {
	t.Parallel()
	push := readFixture(t, "push.new-branch.json")
	evs, err := normalize("push", push)
	require.NoError(t, err)
	c := evs[0].Change
	require.Equal(t, incident.ChangePush, c.Kind)
	require.Equal(t, "master", c.Ref)
	require.Equal(t, ts("2019-05-15T15:20:57Z"), c.At, "pushed_at, a unix time in push payloads")

	evs, err = normalize("workflow_run", readFixture(t, "workflow_run.completed.json"))
	require.NoError(t, err)
	require.Equal(t, ".github/workflows/test.yml", evs[0].Change.Workflow)
	require.Equal(t, "success", evs[0].Change.State)

	evs, err = normalize("deployment_status", readFixture(t, "deployment_status.created.in_progress.json"))
	require.NoError(t, err)
	require.Equal(t, "in_progress", evs[0].Change.State)
	require.Equal(t, "github-pages", evs[0].Change.Environment)
	require.True(t, evs[0].Change.SucceededAt.IsZero())

	// A hook set to application/x-www-form-urlencoded sends payload=<json>.
	form := []byte("payload=" + url.QueryEscape(string(readFixture(t, "release.published.json"))))
	evs, err = normalize("release", form)
	require.NoError(t, err)
	require.Equal(t, incident.ChangeRelease, evs[0].Change.Kind)
}

func TestNormalizeIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		event string
		body  []byte
	}{
		{"ping", readFixture(t, "ping.json")},
		{"ping", readFixture(t, "ping.app-hook.json")},
		{"push", readFixture(t, "push.json")},                        // a tag, not the default branch
		{"pull_request", readFixture(t, "pull_request.closed.json")}, // closed without a merge
		{"issues", readFixture(t, "issues.opened.json")},
		{"check_suite", readFixture(t, "check_suite.completed.json")},
		{"some_future_event", []byte(`{"action":"created"}`)}, // go-github does not know it
	} {
		t.Run(tc.event, func(t *testing.T) {
			t.Parallel()
			_, err := normalize(tc.event, tc.body)
			require.True(t, delivery.IsIgnored(err), "%v", err)
		})
	}
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, event, body string }{
		{"not JSON", "deployment", "<html>"},
		{"no event header", "", `{}`},
		{"deployment without deployment", "deployment", `{"action":"created","repository":{"full_name":"a/b"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := normalize(tc.event, []byte(tc.body))
			require.Error(t, err)
			require.False(t, delivery.IsIgnored(err))
		})
	}
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "deployment.created.json")
	v := github.NewVerifier(config.Secrets("new", "old"))
	for _, tc := range []struct {
		name   string
		header string
		valid  bool
	}{
		{"current secret", github.Sign("new", body), true},
		{"rotated secret", github.Sign("old", body), true},
		{"wrong secret", github.Sign("guess", body), false},
		{"missing", "", false},
		{"sha1 scheme only", "sha1=0000", false},
		{"not hex", "sha256=zz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Content-Type": {"application/json"}}
			if tc.header != "" {
				h.Set(github.SignatureHeader, tc.header)
			}
			require.Equal(t, tc.valid, v.Verify(h, body))
		})
	}
	// No configured secret never validates, even without a signature
	// (go-github's own validator would skip the check).
	require.False(t, github.NewVerifier(nil).Verify(http.Header{}, body))
	require.False(t, github.NewVerifier(config.Secrets("")).Verify(http.Header{github.SignatureHeader: {github.Sign("", body)}}, body))
	// The raw body is what is signed, whatever the Content-Type says: a
	// signed delivery is stored, never refused (go-github's validator
	// refused all but two exact Content-Types).
	for _, ct := range []string{"application/json; charset=utf-8", "application/x-www-form-urlencoded", ""} {
		h := http.Header{github.SignatureHeader: {github.Sign("new", body)}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		require.True(t, v.Verify(h, body), ct)
	}
}

// The hub's own comments come back as webhooks: recognised as echoes.
func TestNormalizeEchoes(t *testing.T) {
	t.Parallel()
	echo := edit(t, readFixture(t, "issue_comment.created.json"), func(p map[string]any) {
		p["comment"].(map[string]any)["body"] = "<!-- incidenthub:summary INC-1 2021-06-04T14:20:00Z -->\n**INC-1 resolved.**"
	})
	_, err := normalize("issue_comment", echo)
	require.True(t, delivery.IsIgnored(err))
	require.ErrorContains(t, err, "echo of the hub's own comment")
	_, err = normalize("issue_comment", readFixture(t, "issue_comment.created.json"))
	require.NotContains(t, err.Error(), "echo")
}
