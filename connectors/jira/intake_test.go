package jira_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/jira"
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
	h := inbox.NewHandler(jira.NewVerifier([]config.Secret{"jira-secret"}), w, 1<<20, inbox.NewBudget(1<<20),
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
