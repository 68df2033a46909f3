package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func TestAppGraphIsValid(t *testing.T) {
	t.Parallel()
	_, cfg := testConfig(t, "127.0.0.1:0")
	require.NoError(t, fx.ValidateApp(appOptions(cfg, slog.New(slog.DiscardHandler))))
}

// What a new user does from the README: run the hub, send the signed
// sample page, and read the incident through the CLI and the API.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, "127.0.0.1:0")
	logs := &logBuffer{}
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), fx.Populate(&srv))
	app.RequireStart()
	base := "http://" + srv.Addr().String()

	out := cli(t, "webhook", "send", "--config", path, "--url", base, "--id", "sample-1", "--file", sample(t, "incident.triggered.json"))
	require.Contains(t, out, "202 Accepted")
	out = cli(t, "webhook", "send", "--config", path, "--url", base, "--id", "sample-1", "--file", sample(t, "incident.triggered.json"))
	require.Contains(t, out, `"duplicate":true`)
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.acknowledged.json"))

	inc := waitIncident(t, base, "INC-1", 2)
	require.Equal(t, "Test Incident 3", inc.Title)
	require.Equal(t, "payments", inc.Service)
	require.Equal(t, "SEV2", inc.Severity)
	require.Equal(t, "PIG 208", inc.Commander)
	require.Equal(t, "incident", inc.Kind)
	require.Len(t, inc.Links.PagerDuty, 2, "the acknowledged page joined the storm")
	require.Equal(t, []string{"page.triggered", "page.acknowledged"}, []string{inc.Timeline[0].Kind, inc.Timeline[1].Kind})

	var list api.List
	require.Equal(t, http.StatusOK, getJSON(t, base+"/api/v1/incidents?status=open&service=payments", &list))
	require.Len(t, list.Incidents, 1)
	require.Empty(t, list.Incidents[0].Timeline, "lists leave timelines out")
	require.Equal(t, http.StatusOK, getJSON(t, base+"/api/v1/incidents?status=resolved", &list))
	require.Empty(t, list.Incidents)
	require.Equal(t, http.StatusNotFound, getJSON(t, base+"/api/v1/incidents/INC-99", nil))

	table := cli(t, "incidents", "list", "--config", path)
	require.Regexp(t, `(?m)^ID\s+STATUS\s+SEVERITY\s+SERVICE\s+OPENED\s+TITLE$`, table)
	require.Regexp(t, `(?m)^INC-1\s+open\s+SEV2\s+payments\s+2021-06-04 13:35Z\s+Test Incident 3$`, table)
	show := cli(t, "incidents", "show", "INC-1", "--config", path)
	require.Contains(t, show, "commander  PIG 208")
	require.Contains(t, show, "page.acknowledged  #10 acknowledged by PIG 208")
	deliveries := cli(t, "deliveries", "list", "--config", path)
	require.Regexp(t, `(?m)^pagerduty\s+sample-1\s+\S+ \S+\s+processed`, deliveries)

	metrics := httpGet(t, base+"/metrics")
	require.Contains(t, metrics, `incidenthub_deliveries_total{outcome="stored",source="pagerduty"} 2`)
	require.Contains(t, metrics, `incidenthub_deliveries_total{outcome="duplicate",source="pagerduty"} 1`)
	require.Contains(t, metrics, `incidenthub_incidents_opened_total{service="payments",severity="SEV2"} 1`)
	require.Contains(t, metrics, `incidenthub_processing_lag_seconds_count{source="pagerduty"} 2`)
	require.Equal(t, "ok\n", httpGet(t, base+"/healthz"))
	require.Equal(t, "ready\n", httpGet(t, base+"/readyz"))

	app.RequireStop()
	require.NotContains(t, logs.String(), testSecret)
	require.NotContains(t, logs.String(), testToken)
}

func TestAPIRequiresToken(t *testing.T) {
	t.Parallel()
	_, cfg := testConfig(t, "127.0.0.1:0")
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()
	for _, header := range []string{"", "Bearer", "Bearer wrong", "Basic " + testToken, testToken, "Bearer " + testToken + "x"} {
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "Authorization: %q", header)
	}
	// The scheme's name is case-insensitive (RFC 9110 §11.1).
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", scheme+" "+testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "scheme %q", scheme)
	}
	// A filter that cannot match is a mistake, not an empty list.
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/incidents?status=nope", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(raw), `unknown status \"nope\" (want one of open, acknowledged, resolved, reviewing, closed)`)
}

// Filters and output the CLI gets wrong are errors, and what it prints of
// untrusted text or credentials is safe to print.
func TestCLIStrictAndSafe(t *testing.T) {
	t.Parallel()
	path, _ := testConfig(t, "127.0.0.1:0")
	for _, args := range [][]string{
		{"incidents", "list", "--status", "bogus"},
		{"deliveries", "list", "--status", "bogus"},
	} {
		cmd := newRootCommand()
		cmd.SetArgs(append(args, "--config", path))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		require.ErrorContains(t, cmd.Execute(), `unknown status "bogus"`, args)
	}

	// version and --version go to stdout, where scripts read them, and say
	// the same: version, commit, build date, Go release.
	var printed []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		cmd := newRootCommand()
		var stdout, stderr bytes.Buffer
		cmd.SetArgs(args)
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		require.NoError(t, cmd.Execute())
		require.Regexp(t, `^incidenthub \S+ \(commit \S+, built \S+, go\S+\)\n$`, stdout.String(), args)
		require.Empty(t, stderr.String())
		printed = append(printed, stdout.String())
	}
	require.Equal(t, printed[0], printed[1])

	// A password in the storage DSN is not printed.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	withDSN := regexp.MustCompile(`storage: .*`).ReplaceAllString(string(raw),
		`storage: {driver: postgres, dsn: "postgres://hub:s3cret-pw@db.example:5432/hub?sslmode=require"}`)
	require.NoError(t, os.WriteFile(path, []byte(withDSN), 0o600))
	out := cli(t, "config", "check", "--config", path)
	require.Contains(t, out, "storage: postgres postgres://hub:xxxxx@db.example:5432/hub?sslmode=require")
	require.NotContains(t, out, "s3cret-pw")

	// Bidirectional controls cannot reorder what a terminal shows.
	require.Equal(t, "invoice fdp.exe", printable("invoice \u202Efdp.exe\u202C"))
	require.Equal(t, "x isolated y", printable("x \u2066isolated\u2069 y"))
	require.Equal(t, "a [2Jb", printable("a\x1b[2Jb"), "escape sequences lose their escape")
}

// Without tokens the API is off (404) and the log says so; without
// secrets a webhook endpoint is off too.
func TestSwitchedOff(t *testing.T) {
	t.Parallel()
	_, cfg := testConfig(t, "127.0.0.1:0")
	cfg.API.Tokens = nil
	cfg.PagerDuty.WebhookSecrets = nil
	logs := &logBuffer{}
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.NewTextHandler(logs, nil))), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/incidents"},
		{http.MethodPost, "/webhooks/pagerduty"},
		{http.MethodPost, "/webhooks/github"},
	} {
		r, err := http.NewRequest(req.method, base+req.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, req.path)
	}
	require.Contains(t, logs.String(), "read API is off")
	require.Contains(t, logs.String(), "PagerDuty webhooks are off")
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(raw)
}

// Read commands never change a database's schema; they say what to do.
func TestReadCommandsDoNotMigrate(t *testing.T) {
	t.Parallel()
	path, _ := testConfig(t, "127.0.0.1:0")
	cmd := newRootCommand()
	cmd.SetArgs([]string{"incidents", "list", "--config", path})
	cmd.SetOut(io.Discard)
	require.ErrorIs(t, cmd.Execute(), store.ErrSchemaBehind)
	require.Contains(t, cli(t, "migrate", "--config", path), "migrations applied")
	require.Contains(t, cli(t, "incidents", "list", "--config", path), "no incidents")
}

// Without GitHub credentials, a required review waits, held, and
// `actions list` says why; nothing pretends to have succeeded.
func TestReviewDocHeldWithoutCredentials(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, "127.0.0.1:0")
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()
	sendResolvedPage(t, path, base)
	waitIncident(t, base, "INC-1", 3)
	require.Eventually(t, func() bool {
		return strings.Contains(cli(t, "actions", "list", "--config", path), "held: github.token (or github.app) is not set")
	}, 10*time.Second, 50*time.Millisecond)
	out := cli(t, "actions", "list", "--config", path)
	require.Regexp(t, `(?m)^\d+\s+github.review_doc\s+INC-1\s+scheduled\s+`, out)
}

// An optional review opens only on request: `incidents review` asks.
func TestOptionalReviewOnRequest(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, "127.0.0.1:0")
	cfg.Severities[1].Review = "optional" // SEV2, the sample page's severity
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()
	sendResolvedPage(t, path, base)
	waitIncident(t, base, "INC-1", 3)
	require.Contains(t, cli(t, "actions", "list", "--config", path), "no jobs", "optional: nothing until asked")

	require.Contains(t, cli(t, "incidents", "review", "INC-1", "--config", path), "review doc requested")
	// The request goes through the hub's ordered path: the running hub
	// decides on it within its poll interval.
	require.Eventually(t, func() bool {
		return regexp.MustCompile(`(?m)^\d+\s+github.review_doc\s+INC-1\s+`).MatchString(cli(t, "actions", "list", "--config", path))
	}, 10*time.Second, 100*time.Millisecond)
	inc := waitIncident(t, base, "INC-1", 4)
	require.Equal(t, "review.requested", inc.Timeline[len(inc.Timeline)-1].Kind)
}

// The probe for images without a shell: 0 while the hub answers, an
// error (exit 1) when it does not.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	_, cfg := testConfig(t, "127.0.0.1:0")
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	base := "http://" + srv.Addr().String()
	require.Contains(t, cli(t, "healthcheck", "--url", base), "/healthz ok")
	require.Contains(t, cli(t, "healthcheck", "--ready", "--url", base), "/readyz ok")
	app.RequireStop()

	cmd := newRootCommand()
	cmd.SetArgs([]string{"healthcheck", "--url", base, "--timeout", "500ms"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	require.Error(t, cmd.Execute(), "the hub is gone")
}

// `deliveries purge` deletes finished deliveries past an age, and refuses
// what would lose work.
func TestDeliveriesPurge(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, "127.0.0.1:0")
	s := openTestStore(t, cfg)
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	for id, status := range map[string]delivery.Status{
		"old-unprocessable": delivery.StatusUnprocessable, "old-processed": delivery.StatusProcessed, "old-pending": delivery.StatusPending,
	} {
		_, err := s.AppendDeliveries(ctx, []delivery.Delivery{{Source: incident.SourcePagerDuty, ID: id, ReceivedAt: old, Body: []byte(`{}`)}})
		require.NoError(t, err)
		if status == delivery.StatusPending {
			continue
		}
		d, err := s.Delivery(ctx, incident.SourcePagerDuty, id)
		require.NoError(t, err)
		require.NoError(t, s.Process(ctx, d.Seq, func(*store.Tx) (delivery.Outcome, error) {
			return delivery.Outcome{Status: status, Reason: "test"}, nil
		}))
	}
	for args, refusal := range map[string]string{
		"":                                  "--older-than is required",
		"--older-than 30d --status pending": "only finished deliveries can be purged",
	} {
		cmd := newRootCommand()
		cmd.SetArgs(append([]string{"deliveries", "purge", "--config", path}, strings.Fields(args)...))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		require.ErrorContains(t, cmd.Execute(), refusal)
	}
	require.Equal(t, "deleted 0 deliveries\n", cli(t, "deliveries", "purge", "--config", path, "--older-than", "60d"))
	require.Equal(t, "deleted 1 deliveries\n", cli(t, "deliveries", "purge", "--config", path, "--older-than", "30d", "--status", "unprocessable"))
	require.Equal(t, "deleted 1 deliveries\n", cli(t, "deliveries", "purge", "--config", path, "--older-than", "30d"))
	out := cli(t, "deliveries", "list", "--config", path)
	require.Contains(t, out, "old-pending")
	require.NotContains(t, out, "old-processed")
}

// make sample tells one story: the Makefile's own lines, run as they are
// written, open INC-1 with the deploy before it, acknowledge it, resolve
// it and queue its review.
func TestSampleTellsOneStory(t *testing.T) {
	t.Parallel()
	path, _ := testConfig(t, "127.0.0.1:0")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	text := strings.Replace(string(raw), "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [Codertocat/Hello-World]}", 1)
	text += fmt.Sprintf("github: {webhook_secrets: [%q]}\n", githubSecret)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr().String()

	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	sent := 0
	for _, args := range sampleCommands(t, makefile, path) {
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "testdata/", "../../testdata/")
		}
		require.Contains(t, cli(t, append(args, "--url", base)...), "202 Accepted", args)
		sent++
	}
	require.Equal(t, 4, sent)

	// The story is told once INC-1 is resolved: wait for that, not for a
	// number of entries.
	var inc api.Incident
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return getJSON(t, base+"/api/v1/incidents/INC-1", &inc) == http.StatusOK && inc.Status == "resolved"
	}, 10*time.Second, 20*time.Millisecond, "INC-1 resolved")
	require.Equal(t, "PIG 208", inc.Commander)
	var kinds []string
	for _, e := range inc.Timeline {
		kinds = append(kinds, e.Kind)
	}
	at := func(kind string) int { return slices.Index(kinds, kind) }
	require.True(t, at("change") == 0 && at("change") < at("page.triggered") && at("page.triggered") < at("page.acknowledged") &&
		at("page.acknowledged") < at("page.resolved"), "the deploy, then the page's story: %v", kinds)
	require.Eventually(t, func() bool {
		return regexp.MustCompile(`(?m)^\d+\s+github.review_doc\s+INC-1\s+\S+.*\n    held: github.token \(or github.app\) is not set$`).
			MatchString(cli(t, "actions", "list", "--config", path))
	}, 10*time.Second, 50*time.Millisecond, "its review queued, and held without a token")

	// What an operator scrapes: the build, the held job and why, the
	// reviews; and the exposition passes promtool's lint (promlint).
	metrics := httpGet(t, base+"/metrics")
	require.Regexp(t, `(?m)^incidenthub_build_info\{commit="[^"]+",goversion="go[^"]+",version="[^"]+"\} 1$`, metrics)
	require.Contains(t, metrics, `incidenthub_jobs{kind="github.review_doc",reason="github.token (or github.app) is not set",state="held"} 1`)
	require.Contains(t, metrics, `incidenthub_reviews{state="overdue"} 0`)
	problems, err := promlint.New(strings.NewReader(metrics)).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
	promtoolChecks(t, metrics)
}

// promtoolChecks runs `promtool check metrics` on an exposition: always
// in CI (.ci/run installs Debian's prometheus package and asks for it),
// elsewhere when promtool is on the PATH.
func promtoolChecks(t *testing.T, metrics string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		require.Empty(t, os.Getenv("INCIDENTHUB_TEST_PROMTOOL"), "INCIDENTHUB_TEST_PROMTOOL is set but promtool is not on the PATH")
		t.Log("promtool is not on the PATH: promlint checked the metrics")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", out)
}

// Every command people run shows an example in its --help, and every list
// and show speaks JSON.
func TestEveryCommandHasAnExample(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "incidenthub completion") {
			if c.Example == "" {
				t.Errorf("%s has no example", c.CommandPath())
			}
			if (c.Name() == "list" || c.Name() == "show") && c.Flags().Lookup("json") == nil {
				t.Errorf("%s has no --json", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRootCommand()
	root.InitDefaultCompletionCmd()
	walk(root)
}
