package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/api"
)

const githubSecret = "gh-test-secret-77d1"

// payloadFile writes a real vendor payload, with edits at dotted paths,
// to a file that `webhook send` can read.
func payloadFile(t *testing.T, vendor, name string, edits map[string]any) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(file, payload(t, vendor, name, edits), 0o600))
	return file
}

// payload is a vendor's published payload from testdata with edits
// applied at dotted paths.
func payload(t testing.TB, vendor, name string, edits map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", vendor, name))
	require.NoError(t, err)
	out, err := editJSON(raw, edits)
	require.NoError(t, err)
	return out
}

func deployStatus(t *testing.T, id int, at string) string {
	return payloadFile(t, "github", "deployment_status.created.json", map[string]any{
		"deployment.id": id, "deployment.created_at": at, "deployment_status.created_at": at,
		"repository.full_name": "acme/payments",
	})
}

// A deploy shortly before a page shows up on that incident's timeline as a
// recent change, through the real binary; the deploy's delivery had failed
// and the sweeper recovers it from GitHub. Then a fix deploy and the
// resolve: the timeline walks all of it in order.
func TestDeployPageFixResolve(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr

	fake := githubtest.New(t)
	fake.Target, fake.Secret = base+"/webhooks/github", githubSecret
	missed, err := os.ReadFile(deployStatus(t, 1, "2021-06-04T13:10:00Z"))
	require.NoError(t, err)
	fake.Add(githubtest.RepoHook("acme/payments", 42), githubtest.Delivery{
		GUID: "guid-missed-deploy", Event: "deployment_status", StatusCode: 503, DeliveredAt: time.Now().Add(-time.Hour), Body: missed,
	})

	path, _ := testConfig(t, addr)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, `github:
  webhook_secrets: [%q]
  token: "gh-token"
  base_url: %q
  hooks: [{repo: acme/payments, id: 42}]
`, githubSecret, fake.URL)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	// The payments service owns acme/payments.
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(cfgText),
		"{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [acme/payments]}", 1)), 0o600))

	hub := startHub(t, path, base)
	require.Eventually(t, func() bool { return len(fake.Redelivered()) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the sweeper asks GitHub to redeliver at start-up")

	send := func(args ...string) {
		out := cli(t, append([]string{"webhook", "send", "--config", path, "--url", base}, args...)...)
		require.Contains(t, out, "202 Accepted")
	}
	send("--source", "pagerduty", "--file", sample(t, "incident.triggered.json")) // 13:35:29
	send("--source", "github", "--event", "deployment_status", "--file", deployStatus(t, 2, "2021-06-04T13:52:00Z"))
	send("--source", "pagerduty", "--file", payloadFile(t, "pagerduty", "incident.resolved.json", map[string]any{
		"event.data.id": "PFQZPSY", "event.data.number": 9, "event.occurred_at": "2021-06-04T14:20:00Z",
	}))

	inc := waitIncident(t, base, "INC-1", 5)
	var timeline []string
	for _, e := range inc.Timeline {
		timeline = append(timeline, e.At.Format("15:04")+" "+e.Kind)
	}
	require.Equal(t, []string{
		"13:10 change", "13:35 page.triggered", "13:52 change", "14:20 page.resolved", "14:20 status.changed",
	}, timeline)
	require.Len(t, inc.Changes, 2)
	require.Equal(t, "recent", inc.Changes[0].Relation)
	require.Equal(t, "during", inc.Changes[1].Relation)
	require.Equal(t, "resolved", inc.Status)

	changes := cli(t, "changes", "list", "--config", path, "--service", "payments", "--since", "100000h")
	require.Regexp(t, `(?m)^2021-06-04 13:10Z\s+payments\s+Deploy of acme/payments@f95f852 to production: success`, changes)
	deliveries := cli(t, "deliveries", "list", "--config", path, "--source", "github")
	require.Regexp(t, `(?m)^github\s+guid-missed-deploy\s+.*processed`, deliveries)

	hub.kill()
	require.NotContains(t, hub.logs.String(), githubSecret)
	require.NotContains(t, hub.logs.String(), "gh-token")
}

// A resolved SEV2 (its severity requires a review) yields one review issue
// with its timeline and questions, a summary, and a PagerDuty note, through
// the real binary and its job queue, against the vendor doubles; killed
// and restarted, it creates none of them twice.
// pageAndResolve sends PagerDuty's sample page, then its resolve.
func pageAndResolve(t *testing.T, path, base string) {
	t.Helper()
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"))
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", payloadFile(t, "pagerduty", "incident.resolved.json", map[string]any{
		"event.data.id": "PFQZPSY", "event.data.number": 9, "event.occurred_at": "2021-06-04T14:20:00Z",
	}))
}

func TestResolvedIncidentGetsOneReviewDoc(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := githubtest.New(t)
	pd := pagerdutytest.New(t)

	path, _ := testConfig(t, addr)
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = []byte(withPagerDutyNotes(string(cfgText), pd.URL))
	cfgText = append(cfgText, fmt.Sprintf("github: {token: \"gh-token\", base_url: %q, review_repo: acme/incidents}\nreview: {open_after: 0s}\n", fake.URL)...)
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))

	hub := startHub(t, path, base)
	pageAndResolve(t, path, base)

	var inc api.Incident
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc) == http.StatusOK && inc.Links.ReviewDoc != ""
	}, 20*time.Second, 50*time.Millisecond, "the review doc link appears on the incident")
	require.Equal(t, "https://github.example/acme/incidents/issues/1", inc.Links.ReviewDoc)
	issues := fake.Issues()
	require.Len(t, issues, 1)
	require.Equal(t, "INC-1: Test Incident 3 — incident review", issues[1].Title)
	require.Contains(t, issues[1].Body, "| Severity | **SEV2** |")
	require.Contains(t, issues[1].Body, "## Who knew what, when, and how did they know it?")
	require.Equal(t, "review.opened", inc.Timeline[len(inc.Timeline)-1].Kind)
	// The page's notes: its triage note when it came, and the review doc's.
	require.Eventually(t, func() bool { return len(pd.Notes("PFQZPSY")) == 2 && len(fake.Comments(1)) == 1 },
		20*time.Second, 50*time.Millisecond, "a note on the page and a summary on the issue")
	require.Contains(t, strings.Join(pd.Notes("PFQZPSY"), "\n"), "[incidenthub INC-1 triage]")
	require.Contains(t, strings.Join(pd.Notes("PFQZPSY"), "\n"), "Review doc for INC-1 (Test Incident 3): https://github.example/acme/incidents/issues/1")
	require.Contains(t, fake.Comments(1)[0], "**INC-1 resolved.**")
	require.Eventually(t, func() bool { return strings.Contains(fake.Issues()[1].Body, "Review doc opened") },
		20*time.Second, 50*time.Millisecond, "the doc's timeline shows its own opening")

	// The preview is the doc exactly as posted, and the summary comment;
	// the CLI and the API show the same.
	preview := cli(t, "incidents", "review", "INC-1", "--preview", "--config", path)
	doc, summary, ok := strings.Cut(preview, "\n\n---\n<!-- the summary comment -->\n\n")
	require.True(t, ok, preview)
	require.Equal(t, fake.Issues()[1].Body, doc)
	require.Contains(t, fake.Comments(1)[0], strings.TrimSpace(summary))
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/incidents/INC-1/review.md", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/markdown; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, preview, string(served))
	require.Contains(t, httpGet(t, base+"/metrics"), `incidenthub_reviews{state="due"} 1`, "one review open, not yet due")

	hub.kill()
	startHub(t, path, base)
	time.Sleep(3 * time.Second) // let the queue run anything left over
	require.Len(t, fake.Issues(), 1, "still exactly one review issue after the restart")
	require.Len(t, fake.Comments(1), 1, "one summary")
	require.Len(t, pd.Notes("PFQZPSY"), 2, "one triage note, one review doc note")
	// A job whose completion River had not flushed when the process was
	// killed stays "running" until River rescues it (RescueStuckJobsAfter);
	// run again then, it finds everything done.
	out := cli(t, "actions", "list", "--all", "--config", path)
	require.Regexp(t, `(?m)^\d+\s+pagerduty.note\s+INC-1\s+(completed|running)`, out)
	require.Regexp(t, `(?m)^\d+\s+github.review_doc\s+INC-1\s+(completed|running)`, out)
}

// The process dies between GitHub creating the review issue and the hub
// recording it. After the restart River rescues the job, which finds the
// issue by its label and adopts it: still exactly one.
func TestKilledBetweenCreateAndRecord(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := githubtest.New(t)
	// GitHub creates the issue, then its answer never comes in time.
	fake.Faults = []githubtest.Fault{{Op: "create", Effect: true, Stall: 3 * time.Second}}

	path, _ := testConfig(t, addr)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "github: {token: \"gh-token\", base_url: %q, review_repo: acme/incidents}\nreview: {open_after: 0s}\njobs: {timeout: 10s, rescue_after: 10s}\n", fake.URL)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	hub := startHub(t, path, base)
	sendResolvedPage(t, path, base)
	require.Eventually(t, func() bool { return len(fake.Issues()) == 1 }, 20*time.Second, 10*time.Millisecond)
	hub.kill() // GitHub has the issue; the hub has not recorded it

	var inc api.Incident
	require.Equal(t, http.StatusOK, func() int {
		hub = startHub(t, path, base)
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc)
	}())
	require.Empty(t, inc.Links.ReviewDoc, "the kill came before the hub recorded the doc")
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc) == http.StatusOK && inc.Links.ReviewDoc != ""
	}, 90*time.Second, 100*time.Millisecond, "the rescued job adopts the issue")
	require.Len(t, fake.Issues(), 1, "exactly one review issue")
	require.Equal(t, "https://github.example/acme/incidents/issues/1", inc.Links.ReviewDoc)
}

// A job that fails for good is loud: an ERROR log line, the failure
// counter, an entry on the record's timeline, and `actions list
// --failed`. GitHub refusing the review issue (422) is such a failure.
func TestJobFailedForGoodIsLoud(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := githubtest.New(t)
	fake.Faults = []githubtest.Fault{{Op: "create", Status: http.StatusUnprocessableEntity}}

	path, _ := testConfig(t, addr)
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = append(cfgText, fmt.Sprintf("github: {token: \"gh-token\", base_url: %q, review_repo: acme/incidents}\nreview: {open_after: 0s}\n", fake.URL)...)
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))
	hub := startHub(t, path, base)
	sendResolvedPage(t, path, base)

	var failed api.Entry
	require.Eventually(t, func() bool {
		inc := api.Incident{}
		getJSON(t, base+"/api/v1/incidents/INC-1", &inc)
		for _, e := range inc.Timeline {
			if e.Kind == "action.failed" {
				failed = e
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "the failure is on the timeline")
	require.Equal(t, "incidenthub", failed.Source)
	require.Contains(t, failed.Summary, "github.review_doc failed for good")
	require.Contains(t, failed.Summary, "GitHub refused (422)")
	require.Contains(t, hub.logs.String(), "job failed for good")
	require.Regexp(t, `level=ERROR[^\n]*job failed for good|"level":"ERROR"[^\n]*job failed for good`, hub.logs.String())
	require.Contains(t, httpGet(t, base+"/metrics"), `incidenthub_actions_failed_total{kind="github.review_doc"} 1`)

	// River records the job's end a moment after it ran.
	listed := regexp.MustCompile(`(?m)^\d+\s+github.review_doc\s+INC-1\s+cancelled\s+1\s+\S+ \S+\n    GitHub refused \(422\)`)
	require.Eventually(t, func() bool {
		return listed.MatchString(cli(t, "actions", "list", "--failed", "--config", path))
	}, 10*time.Second, 100*time.Millisecond, "actions list --failed lists the job, and why")
	require.Empty(t, fake.Issues())
}
