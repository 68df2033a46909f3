package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/report/reporttest"
)

const drillRoutingKey = "R0UT1NGKEY0DR1LLS000000000000001"

// drillHub runs the hub with a GitHub double for debriefs, and the
// Events API double drills page through.
func drillHub(t *testing.T) (path, base string, gh *githubtest.Fake, events *pagerdutytest.Events) {
	t.Helper()
	addr := freeAddr(t)
	base = "http://" + addr
	gh, events = githubtest.New(t), pagerdutytest.NewEvents(t)
	path, _ = testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg := strings.Replace(string(text), "pagerduty: {webhook_secrets:",
		fmt.Sprintf("pagerduty: {events_url: %q, drill_routing_key: %s, webhook_secrets:", events.URL, drillRoutingKey), 1)
	cfg += fmt.Sprintf("github: {webhook_secrets: [%q], token: gh-token, base_url: %q, review_repo: acme/incidents}\n", githubSecret, gh.URL)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	startHub(t, path, base)
	return path, base, gh, events
}

var drillRef = regexp.MustCompile(`(?m)^(INC-\d+): \[DRILL\] `)

// startDrill runs `incidenthub drill` and returns the drill's record.
func startDrill(t *testing.T, path string, args ...string) string {
	t.Helper()
	out := cli(t, append([]string{"drill", "--config", path, "--service", "payments"}, args...)...)
	m := drillRef.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	return m[1]
}

func drillJSON(t *testing.T, base, ref string) api.Incident {
	t.Helper()
	var inc api.Incident
	require.Equal(t, 200, getJSON(t, base+"/api/v1/incidents/"+ref, &inc))
	return inc
}

// A dry drill stays in the hub: a record of kind drill, marked [DRILL],
// which nobody is paged for; a real page meanwhile opens a real incident;
// ended, the drill resolves and its debrief opens at once, with drill
// questions.
func TestDryDrill(t *testing.T) {
	t.Parallel()
	path, base, gh, events := drillHub(t)
	ref := startDrill(t, path, "--dry", "--title", "Card payments time out", "--severity", "SEV2")
	inc := drillJSON(t, base, ref)
	require.Equal(t, "drill", inc.Kind)
	require.Equal(t, "[DRILL] Card payments time out", inc.Title)
	require.Equal(t, "open", inc.Status)
	require.Equal(t, "SEV2", inc.Severity)

	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"))
	require.Eventually(t, func() bool {
		return strings.Contains(cli(t, "incidents", "list", "--kind", "incident", "--config", path), "INC-2")
	}, 20*time.Second, 50*time.Millisecond, "a real page opens a real incident")
	require.Empty(t, drillJSON(t, base, ref).Pages, "a real page never joins a drill")
	require.NotContains(t, cli(t, "incidents", "list", "--kind", "drill", "--config", path), "INC-2")
	require.Contains(t, httpGet(t, base+"/metrics"), `incidenthub_incidents_opened_total{service="payments",severity="SEV2"} 1`+"\n",
		"the real incident counts, the drill (SEV2 on payments too) does not")

	require.Contains(t, cli(t, "drill", "end", ref, "--config", path), ref+": drill ended")
	require.Eventually(t, func() bool { return len(gh.Issues()) == 1 }, 20*time.Second, 50*time.Millisecond, "the debrief opens at once")
	issue := gh.Issues()[1]
	require.Equal(t, ref+": [DRILL] Card payments time out — drill debrief", issue.Title)
	require.Contains(t, issue.Body, "> **This is a drill.**")
	require.Contains(t, issue.Body, "## What was missing from the playbook?")
	require.Eventually(t, func() bool { return drillJSON(t, base, ref).Status == "reviewing" }, 20*time.Second, 50*time.Millisecond)
	require.Contains(t, httpGet(t, base+"/metrics"), `incidenthub_reviews{state="due"} 0`+"\n", "a debrief is no review due")
	require.Empty(t, events.Alerts(), "a dry drill pages nobody")
	require.Contains(t, cliErr(t, "drill", "end", "INC-2", "--config", path), "INC-2 is not a drill")
	require.Equal(t, 1, reportTotal(t, path), "the report counts the real incident, not the drill")
	require.Contains(t, cli(t, "drill", "end", ref, "--config", path), "has ended already")
}

// A drill that pages: the hub sends PagerDuty a trigger whose dedup_key
// names the drill; PagerDuty's webhooks for the incident it opened carry
// that key as incident_key, and join the drill (delivered twice, with a
// real page on the same service meanwhile): exactly one drill record,
// with its one page. Ended, the hub resolves the page in PagerDuty.
func TestPagedDrill(t *testing.T) {
	t.Parallel()
	path, base, _, events := drillHub(t)
	ref := startDrill(t, path, "--title", "Checkout is slow")
	require.Eventually(t, func() bool { return len(events.Alerts()) == 1 }, 20*time.Second, 50*time.Millisecond, "the drill pages")
	trigger := events.Alerts()[0]
	require.Equal(t, "trigger", trigger.EventAction)
	require.Equal(t, drillRoutingKey, trigger.RoutingKey)
	require.Contains(t, trigger.Payload.Summary, "[DRILL] Checkout is slow")
	require.Equal(t, true, trigger.Payload.CustomDetails["drill"])
	require.Regexp(t, `^incidenthub-drill:`+ref+`:[0-9a-f]{16}$`, trigger.DedupKey)

	// PagerDuty's incident for the drill's alert, on the payments service.
	page := payloadFile(t, "pagerduty", "incident.triggered.json", map[string]any{
		"event.id": "DRILLEVENT1", "event.data.id": "PDRILL1", "event.data.incident_key": trigger.DedupKey,
		"event.occurred_at": time.Now().UTC().Format(time.RFC3339),
	})
	for range 2 {
		cli(t, "webhook", "send", "--config", path, "--url", base, "--file", page)
	}
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"))
	require.Eventually(t, func() bool { return len(drillJSON(t, base, ref).Pages) == 1 }, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(cli(t, "incidents", "list", "--config", path), "INC-2")
	}, 20*time.Second, 50*time.Millisecond)
	drills := cli(t, "incidents", "list", "--kind", "drill", "--config", path)
	require.Equal(t, 1, strings.Count(drills, "[DRILL]"), drills)
	inc := drillJSON(t, base, ref)
	require.Equal(t, "PDRILL1", inc.Pages[0].ID)
	require.Equal(t, "drill", inc.Kind)
	require.Equal(t, "[DRILL] Checkout is slow", inc.Title)
	require.Len(t, drillJSON(t, base, "INC-2").Pages, 1, "the real page is its own incident")

	cli(t, "drill", "end", ref, "--config", path)
	require.Eventually(t, func() bool { return len(events.Alerts()) == 2 }, 20*time.Second, 50*time.Millisecond)
	resolve := events.Alerts()[1]
	require.Equal(t, "resolve", resolve.EventAction)
	require.Equal(t, trigger.DedupKey, resolve.DedupKey)
}

// Without a routing key a drill that would page is refused before
// anything is stored, with what to do instead.
func TestDrillNeedsARoutingKeyToPage(t *testing.T) {
	t.Parallel()
	path, _ := testConfig(t, freeAddr(t))
	err := cliErr(t, "drill", "--config", path, "--service", "payments")
	require.Contains(t, err, "pagerduty.drill_routing_key is not set")
	require.Contains(t, err, "--dry")
	require.Contains(t, cliErr(t, "drill", "--config", path, "--service", "nope", "--dry"), `--service "nope" is not a configured service`)
	require.Contains(t, cliErr(t, "drill", "--config", path, "--service", "payments", "--dry", "--severity", "SEV9"), "not a configured severity")
	cli(t, "migrate", "--config", path)
	require.Contains(t, cli(t, "incidents", "list", "--config", path), "no incidents", "nothing is stored")
}

// The hub's routing key may come from an environment the operator's shell
// does not have: the command cannot tell that the hub lacks it, so it
// starts the drill, and a hub without the key holds the page and says so.
func TestDrillRoutingKeyOnlyTheHubCanRead(t *testing.T) {
	t.Parallel()
	path, _ := testConfig(t, freeAddr(t))
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(text), "pagerduty: {webhook_secrets:",
		`pagerduty: {drill_routing_key: "${INCIDENTHUB_TEST_NOT_IN_THIS_SHELL}", webhook_secrets:`, 1)), 0o600))
	cli(t, "migrate", "--config", path)
	out := cli(t, "drill", "--config", path, "--service", "payments", "--wait", "1ms")
	require.Contains(t, out, "paging the on-call through PagerDuty")
}

// A past incident's scenario: `drill --from` writes its deploys and notes
// at their spacing, people pseudonymised; `drill --scenario` replays them
// on the drill's timeline, --speed times faster.
func TestDrillScenario(t *testing.T) {
	t.Parallel()
	path, base, _, _ := drillHub(t)
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	require.NoError(t, reporttest.Store(context.Background(), openTestStore(t, cfg)))

	written := cli(t, "drill", "--from", "INC-1", "--config", path)
	for _, who := range reporttest.People {
		require.NotContains(t, strings.ToLower(written), strings.ToLower(who))
	}
	require.Contains(t, written, "title: Checkout API 5xx above 2%\nservice: payments\nseverity: SEV2\nfrom: INC-1\nsteps:\n")
	require.Contains(t, written, "  - after: 0s\n    kind: deploy\n    summary: 'Deploy of acme/payments@f95f852 to production: success by Person 5'\n")
	require.Contains(t, written, "  - after: 40m0s\n    kind: note\n    summary: 'Note by Person 2 on #5: paging [email] and Person 5 about the pool'\n")
	require.Contains(t, cliErr(t, "drill", "--from", "INC-3", "--config", path), "a scenario is written from a closed incident")

	file := filepath.Join(t.TempDir(), "scenario.yaml")
	require.NoError(t, os.WriteFile(file, []byte(written), 0o600))
	// 40 minutes at 600 times the speed: 4 seconds.
	out := cli(t, "drill", "--scenario", file, "--speed", "600", "--dry", "--config", path)
	m := drillRef.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	ref := m[1]
	inc := drillJSON(t, base, ref)
	require.Equal(t, "[DRILL] Checkout API 5xx above 2%", inc.Title)
	require.Equal(t, "SEV2", inc.Severity)
	require.Eventually(t, func() bool {
		var n int
		for _, e := range drillJSON(t, base, ref).Timeline {
			if strings.HasPrefix(e.Summary, "Scenario ") {
				n++
			}
		}
		return n == 2
	}, 20*time.Second, 100*time.Millisecond, "both steps play")
	// A step plays at its time, never before: the note 4 s after the start.
	at := map[string]time.Time{}
	for _, e := range drillJSON(t, base, ref).Timeline {
		at[e.Kind] = e.At
	}
	require.False(t, at["change"].Before(at["drill.started"]))
	require.GreaterOrEqual(t, at["note"].Sub(at["drill.started"]), 4*time.Second)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("title: x\nservice: payments\nsteps:\n  - {after: 1m, kind: page, summary: boom}\n"), 0o600))
	require.Contains(t, cliErr(t, "drill", "--scenario", bad, "--dry", "--config", path), "steps[0].kind: want deploy or note")
}
