package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
)

// A deploy 12 minutes before a page: the page gets one triage note, within
// seconds, naming the deploy, how long before, and the playbook; a
// redelivery and a restart add none. A fix deploy while the incident is
// open gets one note of its own, however often it is delivered.
func TestTriageNoteOnThePage(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	pd := pagerdutytest.New(t)
	path, _ := testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg := strings.Replace(string(text), "pagerduty: {webhook_secrets:",
		fmt.Sprintf("pagerduty: {api_token: pd-token, from_email: oncall@example.com, base_url: %q, webhook_secrets:", pd.URL), 1)
	cfg = strings.Replace(cfg, "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [acme/payments], playbook: \"https://wiki.example.com/playbooks/payments\"}", 1)
	cfg += fmt.Sprintf("github: {webhook_secrets: [%q]}\n", githubSecret)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	hub := startHub(t, path, base)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(hub.logs.String())
		}
	})

	// Live: the page a minute ago (2021 payloads carry no created_at: its
	// occurred_at is its start), the deploy 12 minutes before it.
	paged := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	stamp := func(at time.Time) string { return at.Format(time.RFC3339) }
	cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "deployment_status",
		"--file", deployStatus(t, 7, stamp(paged.Add(-12*time.Minute))))
	trigger := payloadFile(t, "pagerduty", "incident.triggered.json", map[string]any{"event.occurred_at": stamp(paged)})
	sent := time.Now()
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", trigger)
	const page = "PFQZPSY"
	require.Eventually(t, func() bool { return len(pd.Notes(page)) == 1 }, 10*time.Second, 20*time.Millisecond, "the triage note")
	t.Logf("triage note %s after the trigger was sent", time.Since(sent).Round(time.Millisecond))
	note := pd.Notes(page)[0]
	for _, want := range []string{"incidenthub INC-1 on payments", "12m before: Deploy of acme/payments@",
		"Playbook: https://wiki.example.com/playbooks/payments", "incidenthub incidents show INC-1", "[incidenthub INC-1 triage]"} {
		require.Contains(t, note, want)
	}

	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", trigger, "--id", "redelivered")
	hub.kill()
	hub = startHub(t, path, base)
	time.Sleep(2 * time.Second)
	require.Len(t, pd.Notes(page), 1, "still one after a redelivery and a restart")

	fix := deployStatus(t, 8, stamp(paged.Add(time.Minute)))
	for _, id := range []string{"fix", "fix-again"} {
		cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "deployment_status",
			"--file", fix, "--id", id)
	}
	require.Eventually(t, func() bool { return len(pd.Notes(page)) == 2 }, 10*time.Second, 20*time.Millisecond, "the live-change note")
	require.Contains(t, pd.Notes(page)[1], "incidenthub INC-1: a change to payments while this incident is open, 1m after it opened: Deploy of acme/payments@")
	time.Sleep(time.Second)
	require.Len(t, pd.Notes(page), 2, "one per change")
}
