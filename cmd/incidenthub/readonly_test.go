package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/incidenthub/incidenthub/internal/httpserver"
)

// unsetVar is named by a configuration and never set, as
// JIRA_WEBHOOK_SECRET is in a terminal that only reads records.
const unsetVar = "INCIDENTHUB_TEST_NEVER_SET_5E1B"

// The README's second terminal: commands that only open the store read
// records with the storage settings alone, whatever secret is missing
// from their environment. Those that use the secrets still want them all.
func TestReadCommandsNeedOnlyStorage(t *testing.T) {
	t.Parallel()
	_, set := os.LookupEnv(unsetVar)
	require.False(t, set, "%s must not be set for this test", unsetVar)

	path, cfg := testConfig(t, "127.0.0.1:0")
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()
	sendResolvedPage(t, path, base)
	waitIncident(t, base, "INC-1", 3)

	// The hub's database, every other value a variable that is not set.
	readPath := filepath.Join(t.TempDir(), "incidenthub.yaml")
	require.NoError(t, os.WriteFile(readPath, fmt.Appendf(nil, `listen: "${%[1]s}"
storage: {driver: %[3]s, dsn: %[2]q}
api: {tokens: ["${%[1]s}"]}
pagerduty: {webhook_secrets: ["${%[1]s}"], api_token: "${%[1]s}"}
github: {webhook_secrets: ["pre-${%[1]s}"], token: "${%[1]s}"}
jira: {webhook_secrets: ["${%[1]s}"]}
severities:
  - {name: SEV1, pagerduty_priorities: [P1], review: required}
  - {name: SEV2, pagerduty_priorities: [P2], urgency: high, review: required}
services:
  - {name: payments, pagerduty_service_ids: [PA2P440]}
`, unsetVar, cfg.Storage.DSN, cfg.Storage.Driver), 0o600))

	require.Regexp(t, `(?m)^INC-1\s+resolved\s+SEV2\s+payments\s+`, cli(t, "incidents", "list", "--config", readPath))
	require.Contains(t, cli(t, "incidents", "show", "INC-1", "--config", readPath), "page.resolved   #6 resolved by PIG 208")
	require.Contains(t, cli(t, "changes", "list", "--config", readPath), "no changes")
	require.Contains(t, cli(t, "followups", "list", "--config", readPath), "no follow-ups")
	listed := cli(t, "deliveries", "list", "--config", readPath)
	require.Regexp(t, `(?m)^pagerduty\s+\S+\s+\S+ \S+\s+processed`, listed)
	id := regexp.MustCompile(`(?m)^pagerduty\s+(\S+)`).FindStringSubmatch(listed)[1]
	shown := cli(t, "deliveries", "show", "pagerduty", id, "--config", readPath)
	require.Contains(t, shown, "pagerduty/"+id+"\n")
	require.Contains(t, shown, "  status     processed\n")
	require.Regexp(t, `(?m)^  headers    Content-Type: application/json$`, shown)
	require.Regexp(t, `(?m)^             X-Pagerduty-Signature: v1=[0-9a-f]{64}$`, shown)
	require.Regexp(t, `(?m)^             X-Webhook-Id: \S+$`, shown)
	require.Contains(t, shown, "\n{\n  \"event\": {\n", "the body, pretty-printed")
	require.Contains(t, cliErr(t, "deliveries", "show", "pagerduty", "nope", "--config", readPath),
		`no pagerduty delivery "nope"; see incidenthub deliveries list --source pagerduty`)
	require.Contains(t, cli(t, "changes", "list", "--since", "2w", "--config", readPath), "no changes")
	require.Equal(t, `no incidents; service "paymnts" is not configured (configured: payments, unmapped); severity "SEV9" is not configured (configured: SEV1, SEV2)`+"\n",
		cli(t, "incidents", "list", "--service", "paymnts", "--severity", "SEV9", "--config", readPath), "a typo is pointed out")
	// Every list speaks JSON with stable names; mistakes say what to do.
	var deliveries struct {
		Deliveries []struct{ Source, ID, Status string } `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli(t, "deliveries", "list", "--json", "--config", readPath)), &deliveries))
	require.Equal(t, "pagerduty", deliveries.Deliveries[0].Source)
	var shownJSON struct {
		Status string          `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli(t, "deliveries", "show", "pagerduty", id, "--json", "--config", readPath)), &shownJSON))
	require.Equal(t, "processed", shownJSON.Status)
	require.True(t, json.Valid(shownJSON.Body))
	var changes struct {
		Changes []any `json:"changes"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli(t, "changes", "list", "--json", "--config", readPath)), &changes))
	require.NotNil(t, changes.Changes, "an empty list, not null")
	require.Contains(t, cliErr(t, "deliveries", "list", "--source", "pagerdooty", "--config", readPath),
		`unknown source "pagerdooty" (want one of pagerduty, github, jira, incidenthub)`)
	require.Contains(t, cliErr(t, "actions", "retry", "999", "--config", readPath), "no action 999; see incidenthub actions list --all")
	require.Contains(t, cliErr(t, "deliveries", "replay", "jira", "nope", "--config", readPath), `no jira delivery "nope"`)
	// The review job runs at once (its decompression time is long past) and
	// is held, with the reason the running hub recorded on it.
	require.Eventually(t, func() bool {
		// The reason is never cut: under its row when it does not fit.
		return regexp.MustCompile(`(?m)^\d+\s+github.review_doc\s+INC-1\s+scheduled\s+\d+\s+\S+ \S+\n    held: github.token \(or github.app\) is not set$`).
			MatchString(cli(t, "actions", "list", "--config", readPath))
	}, 10*time.Second, 50*time.Millisecond)
	for _, list := range []string{"actions", "deliveries", "incidents", "changes", "followups"} {
		for _, line := range strings.Split(cli(t, list, "list", "--config", readPath), "\n") {
			require.LessOrEqual(t, utf8.RuneCountInString(line), 80, "%s list fits 80 columns: %q", list, line)
		}
	}
	var jobs struct {
		Jobs []struct {
			Kind, Incident, State, Why string
		} `json:"jobs"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli(t, "actions", "list", "--json", "--config", readPath)), &jobs))
	require.Equal(t, "github.review_doc", jobs.Jobs[0].Kind)
	require.Equal(t, "INC-1", jobs.Jobs[0].Incident)
	require.Equal(t, "held: github.token (or github.app) is not set", jobs.Jobs[0].Why)
	// The review doc is previewed without GitHub, token or not.
	preview := cli(t, "incidents", "review", "INC-1", "--preview", "--config", readPath)
	require.True(t, strings.HasPrefix(preview, "<!-- incidenthub:incident INC-1 "), preview)
	require.Contains(t, preview, "| Severity | **SEV2** |")
	require.Contains(t, preview, "**INC-1 resolved.**", "and the summary comment")
	require.Contains(t, cli(t, "migrate", "--config", readPath), "migrations applied")

	for _, args := range [][]string{
		{"config", "check"},
		{"serve"},
		{"webhook", "send", "--url", base, "--file", sample(t, "incident.triggered.json")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := newRootCommand()
		cmd.SetArgs(append(args, "--config", readPath))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(ctx)
		cancel()
		require.ErrorContains(t, err, "jira.webhook_secrets[0]: environment variable "+unsetVar+" is not set", args)
	}
}
