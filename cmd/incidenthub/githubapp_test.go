package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/api"
)

// With a GitHub App identity only (no token): the App's webhook delivery
// that failed while the hub was down is redelivered by the sweeper (the
// App's JWT), and a resolved incident gets its review issue and summary
// written with installation tokens. The double refuses any other
// credentials, and checks every call against GitHub's description.
func TestGitHubAppIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := githubtest.New(t)
	pd := pagerdutytest.New(t)
	app, key := fake.EnableApp(t)
	fake.Target, fake.Secret = base+"/webhooks/github", githubSecret
	missed, err := os.ReadFile(deployStatus(t, 1, "2021-06-04T13:10:00Z"))
	require.NoError(t, err)
	fake.Add(githubtest.AppHook, githubtest.Delivery{
		GUID: "guid-app-missed", Event: "deployment_status", StatusCode: 503, DeliveredAt: time.Now().Add(-time.Hour), Body: missed,
	})

	path, _ := testConfig(t, addr)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "app.pem"), key, 0o600))
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = []byte(withPagerDutyNotes(string(cfgText), pd.URL))
	cfgText = []byte(strings.Replace(string(cfgText), "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [acme/payments]}", 1))
	cfgText = append(cfgText, fmt.Sprintf(`github:
  webhook_secrets: [%q]
  app: {id: %d, installation_id: %d, private_key_file: app.pem}
  base_url: %q
  review_repo: acme/incidents
review: {open_after: 0s}
`, githubSecret, app.ID, app.InstallationID, fake.URL)...)
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))
	require.Contains(t, cli(t, "config", "check", "--config", path),
		fmt.Sprintf("github identity: GitHub App %d (installation %d)", app.ID, app.InstallationID))

	startHub(t, path, base)
	require.Eventually(t, func() bool { return len(fake.Redelivered()) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the sweeper asks GitHub to redeliver the App's failed delivery at start-up")
	require.Eventually(t, func() bool {
		return strings.Contains(cli(t, "changes", "list", "--since", "100000h", "--config", path), "acme/payments")
	}, 10*time.Second, 50*time.Millisecond, "the redelivered deploy is stored and kept")

	pageAndResolve(t, path, base)
	require.Eventually(t, func() bool {
		var inc api.Incident
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc) == http.StatusOK && inc.Links.ReviewDoc != ""
	}, 20*time.Second, 50*time.Millisecond, "the review doc opens")
	require.Eventually(t, func() bool { return len(fake.Comments(1)) == 1 }, 20*time.Second, 50*time.Millisecond, "the summary is posted")
	require.Eventually(t, func() bool {
		return strings.Contains(strings.Join(pd.Notes("PFQZPSY"), "\n"), "Review doc for INC-1")
	}, 20*time.Second, 50*time.Millisecond, "the page's note links the review doc")
	require.Contains(t, fake.Issues()[1].Body, "acme/payments", "the doc lists the deploy that came by redelivery")
	require.Positive(t, fake.TokensMinted())
	require.Empty(t, fake.Violations())
}
