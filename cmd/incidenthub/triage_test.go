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
// redelivery and a restart add none.
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

	cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "deployment_status",
		"--file", deployStatus(t, 7, "2021-06-04T13:23:29Z"))
	// The sample page starts at 13:35:29 (its occurred_at: 2021 payloads
	// carry no created_at).
	sent := time.Now()
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"))
	const page = "PFQZPSY"
	require.Eventually(t, func() bool { return len(pd.Notes(page)) == 1 }, 10*time.Second, 20*time.Millisecond, "the triage note")
	t.Logf("triage note %s after the trigger was sent", time.Since(sent).Round(time.Millisecond))
	note := pd.Notes(page)[0]
	for _, want := range []string{"incidenthub INC-1 on payments", "12m before: Deploy of acme/payments@",
		"Playbook: https://wiki.example.com/playbooks/payments", "incidenthub incidents show INC-1", "[incidenthub INC-1 triage]"} {
		require.Contains(t, note, want)
	}

	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"), "--id", "redelivered")
	hub.kill()
	hub = startHub(t, path, base)
	time.Sleep(2 * time.Second)
	require.Len(t, pd.Notes(page), 1, "still one after a redelivery and a restart")
}
