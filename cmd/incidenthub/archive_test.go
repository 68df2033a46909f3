package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
)

// The incident database through the real binary: a closed review is
// committed to reviews/YYYY/ with its front matter and what people wrote,
// and listed in reviews/README.md; reopened, edited and closed again, the
// same one file is updated. The record says where it went and which
// learning sections people filled in.
func TestClosedReviewGoesToTheIncidentDatabase(t *testing.T) {
	t.Parallel()
	path, base, gh, _, _, _ := followUpHub(t, "")
	send := func(action string) {
		cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "issues",
			"--file", payloadFile(t, "github", "issues.opened.json", reviewIssue(map[string]any{
				"action": action, "issue.state": map[string]string{"closed": "closed", "reopened": "open"}[action],
				"issue.closed_at": time.Now().UTC().Format(time.RFC3339), "issue.updated_at": time.Now().UTC().Format(time.RFC3339Nano),
			})))
	}
	write := func(heading, text string) {
		body := gh.Issues()[1].Body
		require.Contains(t, body, heading)
		gh.SetBody(1, strings.Replace(body, heading+"\n", heading+"\n\n"+text+"\n", 1))
	}
	write("## How did our systems surprise us?", "The pool limit was per host, not per cluster.")
	// Another review is in the index already (committed by another
	// replica), and the first write of the index meets a conflict.
	const other = "| [INC-7](2021/INC-7-ledger-lag.md) | 2021-05-01 | payments | SEV3 | Ledger lag |"
	gh.SetFile("reviews/README.md", "# Incident database\n\n| Incident | Opened | Service | Severity | Title |\n|---|---|---|---|---|\n"+other+"\n")
	gh.Faults = []githubtest.Fault{{Op: "put", Status: http.StatusConflict}}
	send("closed")

	const file = "reviews/2021/INC-1-test-incident-3.md"
	require.Eventually(t, func() bool { return incidentJSON(t, base).Links.Archive == file }, 30*time.Second, 50*time.Millisecond,
		"the record says where its review went")
	inc := incidentJSON(t, base)
	require.Equal(t, []string{"surprised"}, inc.Learned)
	text, ok := gh.File(file)
	require.True(t, ok, "files: %v", gh.Files())
	for _, want := range []string{"---\nincident: INC-1\n", "service: payments\n", "severity: SEV2\n", "time_to_resolve: ",
		"review: https://github.example/acme/incidents/issues/1\n", "The pool limit was per host, not per cluster."} {
		require.Contains(t, text, want)
	}
	index, ok := gh.File("reviews/README.md")
	require.True(t, ok)
	require.Contains(t, index, "| [INC-1](2021/INC-1-test-incident-3.md) | 2021-06-04 | payments | SEV2 |")
	require.Contains(t, index, other, "the other review's row stays")
	require.Less(t, strings.Index(index, "[INC-7]"), strings.Index(index, "[INC-1]"), "newest first")

	// Reopened, more written, closed again: the same file, updated.
	send("reopened")
	require.Eventually(t, func() bool { return incidentJSON(t, base).Status == "reviewing" }, 20*time.Second, 50*time.Millisecond)
	// The reopening rewrites the doc's hub sections: wait for it, as a
	// person's edit made meanwhile could be overwritten (GitHub's PATCH
	// takes no version to check).
	require.Eventually(t, func() bool {
		return !strings.Contains(cli(t, "actions", "list", "--config", path), "github.review_doc")
	}, 20*time.Second, 50*time.Millisecond)
	write("## Who knew what, when, and how did they know it?", "Ana saw the pool graph first.")
	send("closed")
	require.Eventually(t, func() bool { return len(incidentJSON(t, base).Learned) == 2 }, 30*time.Second, 50*time.Millisecond, cli(t, "incidents", "show", "INC-1", "--config", path))
	require.Equal(t, []string{"who_knew", "surprised"}, incidentJSON(t, base).Learned)
	require.Equal(t, []string{"reviews/2021/INC-1-test-incident-3.md", "reviews/README.md"}, gh.Files(), "one file however often it closes")
	text, _ = gh.File(file)
	require.Contains(t, text, "Ana saw the pool graph first.")
	require.Len(t, gh.Commits(), 4, "by hand, the review twice, the index once: an unchanged file is not committed again")
	require.Contains(t, cli(t, "incidents", "show", "INC-1", "--config", path), "Review committed to the incident database: "+file)
}
