package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/api"
)

// An organisation's own review template (review.template): config check
// and serve refuse a broken one with its line and column, and a good one
// writes the review doc the hub opens on GitHub.
func TestOwnReviewTemplate(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := githubtest.New(t)
	path, _ := testConfig(t, addr)
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = append(cfgText, fmt.Sprintf("github: {token: \"gh-token\", base_url: %q, review_repo: acme/incidents}\nreview: {open_after: 0s, template: acme-review.md.tmpl}\n", fake.URL)...)
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))
	tmplPath := filepath.Join(filepath.Dir(path), "acme-review.md.tmpl")

	const good = `# Post-incident review: {{md .Title}}

Facilitator: _to be named_. Incident lead: {{with .Commander}}{{md .}}{{else}}nobody acknowledged{{end}}.

<!-- incidenthub:overview:start -->
{{.Ref}} on {{md .Service}}, {{md .Severity}}: opened {{stamp .OpenedAt}}, resolved {{after .OpenedAt .ResolvedAt}}.
<!-- incidenthub:overview:end -->

## Customer impact

## Timeline

<!-- incidenthub:timeline:start -->
{{range .Timeline}}- {{stamp .At}}: {{mdrow .Summary}}
{{end}}<!-- incidenthub:timeline:end -->

<!-- incidenthub:changes:start -->
{{range .Changes}}- {{link (summary .) .URL}}
{{end}}<!-- incidenthub:changes:end -->

## Action items

<!-- incidenthub:followups:start -->
{{range .FollowUps}}- {{followup .}}: {{mdrow .Title}}
{{end}}<!-- incidenthub:followups:end -->
`
	// Broken: a field the data does not have, and no follow-ups section.
	broken := strings.Replace(good, "Facilitator: _to be named_.", "Facilitator: {{.Facilitator}}.", 1)
	broken = strings.ReplaceAll(broken, "incidenthub:followups:", "followups:")
	require.NoError(t, os.WriteFile(tmplPath, []byte(broken), 0o600))

	msg := cliErr(t, "config", "check", "--config", path)
	require.Contains(t, msg, "review.template: template: acme-review.md.tmpl:3:15: executing")
	require.Contains(t, msg, "can't evaluate field Facilitator")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := exec.CommandContext(ctx, os.Args[0], "serve", "--config", path)
	serve.Env = append(os.Environ(), "INCIDENTHUB_TEST_AS_MAIN=1")
	out, err := serve.CombinedOutput()
	require.Error(t, err, "serve refuses a broken template")
	require.Contains(t, string(out), "acme-review.md.tmpl:3:15", "serve names the template's line and column")

	broken = strings.Replace(good, "<!-- incidenthub:followups:end -->", "", 1)
	require.NoError(t, os.WriteFile(tmplPath, []byte(broken), 0o600))
	require.Contains(t, cliErr(t, "config", "check", "--config", path), `the hub's "followups" section is missing`)

	require.NoError(t, os.WriteFile(tmplPath, []byte(good), 0o600))
	require.Regexp(t, `review template: .*acme-review\.md\.tmpl \(version [0-9a-f]{12}\)`, cli(t, "config", "check", "--config", path))

	startHub(t, path, base)
	pageAndResolve(t, path, base)
	require.Eventually(t, func() bool {
		var inc api.Incident
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc) == http.StatusOK && inc.Links.ReviewDoc != ""
	}, 20*time.Second, 50*time.Millisecond, "the review doc opens")
	body := fake.Issues()[1].Body
	require.True(t, strings.HasPrefix(body, "# Post-incident review: Test Incident 3\n"), body)
	require.Contains(t, body, "## Customer impact")
	require.Contains(t, body, "INC-1 on payments, SEV2: opened 2021-06-04")
	require.Regexp(t, `<!-- incidenthub:template [0-9a-f]{12} -->\n$`, body, "the doc records its template's version")
	require.Contains(t, cli(t, "incidents", "review", "INC-1", "--preview", "--config", path), "## Customer impact",
		"the preview renders with the same template")
}
