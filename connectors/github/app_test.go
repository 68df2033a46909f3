package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/httpclient"
)

// appConfig enables the App on the double and configures the hub as it,
// with its key in a file.
func appConfig(t *testing.T, fake *githubtest.Fake) config.GitHub {
	t.Helper()
	app, key := fake.EnableApp(t)
	path := filepath.Join(t.TempDir(), "app.pem")
	require.NoError(t, os.WriteFile(path, key, 0o600))
	return config.GitHub{BaseURL: fake.URL, ReviewRepo: "acme/incidents",
		App: &config.GitHubApp{ID: app.ID, InstallationID: app.InstallationID, PrivateKeyFile: path}}
}

// As a GitHub App installation, the hub writes with installation tokens
// it mints once and reuses; the double refuses anything else.
func TestAppInstallationWrites(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	cfg := appConfig(t, fake)
	require.Equal(t, "", github.ReviewHeld(cfg), "an App is an identity")

	client, err := github.NewClient(cfg, httpclient.New(httpclient.Options{}))
	require.NoError(t, err)
	ctx := context.Background()
	for range 2 {
		_, _, err = client.Issues.Create(ctx, "acme", "incidents", &gh.IssueRequest{Title: gh.String("INC-1: review")})
		require.NoError(t, err)
	}
	require.Len(t, fake.Issues(), 2)
	require.Equal(t, 1, fake.TokensMinted(), "one installation token, reused until it nears expiry")

	// A personal token, or a JWT from another key, is refused.
	_, _, err = fake.Client(t).Issues.Create(ctx, "acme", "incidents", &gh.IssueRequest{Title: gh.String("x")})
	var ghErr *gh.ErrorResponse
	require.ErrorAs(t, err, &ghErr)
	require.Equal(t, http.StatusUnauthorized, ghErr.Response.StatusCode)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged := filepath.Join(t.TempDir(), "forged.pem")
	require.NoError(t, os.WriteFile(forged, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}), 0o600))
	bad := cfg
	bad.App = &config.GitHubApp{ID: cfg.App.ID, InstallationID: cfg.App.InstallationID, PrivateKeyFile: forged}
	client, err = github.NewClient(bad, httpclient.New(httpclient.Options{}))
	require.NoError(t, err)
	_, _, err = client.Issues.Create(ctx, "acme", "incidents", &gh.IssueRequest{Title: gh.String("x")})
	require.Error(t, err)
	require.Len(t, fake.Issues(), 2)
	require.Empty(t, fake.Violations())

	require.ErrorContains(t, github.CheckApp(config.GitHub{App: &config.GitHubApp{ID: 1, InstallationID: 2, PrivateKeyFile: filepath.Join(t.TempDir(), "missing.pem")}}),
		"github.app.private_key_file")
}

// The App's own webhook is swept with the App's JWT, next to the hooks
// listed in the configuration.
func TestSweeperCoversTheAppWebhook(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	cfg := appConfig(t, fake)
	fake.Add(githubtest.AppHook, githubtest.Delivery{GUID: "app-missed", Event: "deployment_status", StatusCode: 502, DeliveredAt: time.Now()})
	fake.Add(githubtest.RepoHook("acme/payments", 7), githubtest.Delivery{GUID: "repo-missed", Event: "push", StatusCode: 503, DeliveredAt: time.Now()})
	hc := httpclient.New(httpclient.Options{})
	client, err := github.NewClient(cfg, hc)
	require.NoError(t, err)
	app, err := github.NewAppClient(cfg, hc)
	require.NoError(t, err)
	s := github.NewSweeper(client, app, []config.Hook{{Repo: "acme/payments", ID: 7}, {App: true}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	res, err := s.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, res.Redelivered)
	require.ElementsMatch(t, []string{"repo-missed", "app-missed"}, fake.Redelivered())
	require.True(t, slices.ContainsFunc(fake.Requests(), func(r string) bool { return r == "GET /app/hook/deliveries?per_page=100" }), fake.Requests())
	require.Empty(t, fake.Violations())
}

// An App without a webhook has no deliveries to sweep: GitHub's 404 is
// not an error of every sweep.
func TestSweeperAppWithoutWebhook(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	cfg := appConfig(t, fake)
	fake.Faults = []githubtest.Fault{{Op: "deliveries", Status: http.StatusNotFound}, {Op: "deliveries", Status: http.StatusNotFound}}
	hc := httpclient.New(httpclient.Options{})
	client, err := github.NewClient(cfg, hc)
	require.NoError(t, err)
	app, err := github.NewAppClient(cfg, hc)
	require.NoError(t, err)
	s := github.NewSweeper(client, app, []config.Hook{{App: true}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	for range 2 {
		_, err = s.Sweep(context.Background())
		require.NoError(t, err)
	}
	asked := 0
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r, "GET /app/hook/deliveries") {
			asked++
		}
	}
	require.Equal(t, 2, asked, "both sweeps asked, and were told there is no webhook")

	// Another hook's 404 is still an error: a wrong id must show.
	fake.Faults = []githubtest.Fault{{Op: "deliveries", Status: http.StatusNotFound}}
	s = github.NewSweeper(client, app, []config.Hook{{Repo: "acme/payments", ID: 7}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	_, err = s.Sweep(context.Background())
	require.Error(t, err)
}
