package jira_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// A dynamic webhook (a Connect or OAuth app's) carries a JWT, not an HMAC:
// refused with 401, and the log says how to set up a signed admin webhook
// instead, without the token.
func TestDynamicWebhookIsRefusedWithAdvice(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	w := inbox.NewWriter(s)
	go w.Run(context.Background())
	t.Cleanup(w.Close)
	logs := &bytes.Buffer{}
	h := inbox.NewHandler(jira.NewVerifier(config.Secrets("jira-secret")), w, 1<<20, inbox.NewBudget(1<<20),
		slog.New(slog.NewTextHandler(logs, nil)), metrics.New())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	const token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjb25uZWN0In0.c2lnbmF0dXJl"
	for _, auth := range []string{"JWT " + token, "Bearer " + token} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"webhookEvent":"jira:issue_updated"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.Equal(t, 2, strings.Count(logs.String(), "create an admin webhook instead"), logs.String())
	require.Contains(t, logs.String(), "jira.webhook_secrets")
	require.NotContains(t, logs.String(), "eyJ", "the token is never logged")

	logs.Reset()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.NotContains(t, logs.String(), "hint", "a plain unsigned request gets no advice about apps")
}

// The client reads its token for each request: a rotated token file takes
// effect with the next call, without a new client.
func TestClientTokenRotates(t *testing.T) {
	t.Parallel()
	fake := jiratest.New(t)
	fake.Email, fake.APIToken = "bot@example.com", "token-one"
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jira-token"), []byte("token-one\n"), 0o600))
	cfg, err := config.Parse(filepath.Join(dir, "hub.yaml"), fmt.Appendf(nil,
		"jira: {base_url: %q, email: bot@example.com, api_token_file: jira-token}\nseverities: [{name: SEV1, review: none}]\n", fake.URL),
		func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	client, err := jira.NewClient(cfg.Jira, httpclient.New(httpclient.Options{Retries: 0}))
	require.NoError(t, err)
	tickets := jira.NewTickets(client, cfg.Jira.Flavor)
	ctx := context.Background()
	_, err = tickets.FindByLabel(ctx, "incidenthub-a")
	require.NoError(t, err)

	fake.APIToken = "token-two" // Jira now takes only the new token
	_, err = tickets.FindByLabel(ctx, "incidenthub-a")
	require.Error(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jira-token"), []byte("token-two\n"), 0o600))
	_, err = cfg.ReloadSecrets()
	require.NoError(t, err)
	_, err = tickets.FindByLabel(ctx, "incidenthub-a")
	require.NoError(t, err, "the same client, with the rotated token")
}
