package main

import (
	"fmt"
	"os"
	"slices"
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
	pd := pagerdutytest.New(t)
	path, base, hub := notesHub(t, fmt.Sprintf("base_url: %q", pd.URL),
		`playbook: "https://wiki.example.com/playbooks/payments"`)

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
	restarted := startHub(t, path, base)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(restarted.logs.String())
		}
	})
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

// With the service's routing key, its deploys reach PagerDuty's recent
// changes, once each. A role assigned in PagerDuty shows on the record and
// its timeline; an expected role nobody takes within the grace time gets
// one note on the page.
func TestRecentChangesAndRoles(t *testing.T) {
	t.Parallel()
	pd, events := pagerdutytest.New(t), pagerdutytest.NewEvents(t)
	path, base, _ := notesHub(t, fmt.Sprintf("base_url: %q, events_url: %q", pd.URL, events.URL),
		"pagerduty_routing_key: R0UT1NGKEY0PAYMENTS0000000000001",
		"urgency: high, review: required}", "urgency: high, review: required, roles_expected: [commander, communications], roles_grace: 3s}")
	send := func(file string, args ...string) {
		cli(t, append([]string{"webhook", "send", "--config", path, "--url", base, "--file", file}, args...)...)
	}
	github := func(file, id string) { send(file, "--source", "github", "--event", "deployment_status", "--id", id) }

	paged := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	stamp := func(at time.Time) string { return at.Format(time.RFC3339) }
	github(deployStatus(t, 7, stamp(paged.Add(-12*time.Minute))), "deploy")
	require.Eventually(t, func() bool { return len(events.Sent()) == 1 }, 10*time.Second, 20*time.Millisecond, "the deploy's change event")
	sent := events.Sent()[0]
	require.Equal(t, "R0UT1NGKEY0PAYMENTS0000000000001", sent.RoutingKey)
	require.Equal(t, paged.Add(-12*time.Minute).Format("2006-01-02T15:04:05.000Z"), sent.Payload.Timestamp)
	require.Contains(t, sent.Payload.Summary, "Deploy of acme/payments@")

	const page = "PFQZPSY"
	send(payloadFile(t, "pagerduty", "incident.triggered.json", map[string]any{"event.occurred_at": stamp(paged)}))
	acked := time.Now().UTC()
	send(payloadFile(t, "pagerduty", "incident.acknowledged.json", map[string]any{
		"event.occurred_at": acked.Format(time.RFC3339Nano), "event.data.id": page}))
	role := payloadFile(t, "pagerduty", "docs.incident.priority_updated.json", map[string]any{
		"event.id": "role-1", "event.event_type": "incident.role.assigned", "event.occurred_at": acked.Add(time.Second).Format(time.RFC3339Nano),
		"event.data": map[string]any{"type": "incident_role_assignment", "incident_role_assignments": []any{map[string]any{
			"id": "af64b84c", "status": "active", "type": "role_assignment_reference",
			"incident": map[string]any{"id": page, "type": "incident_reference", "html_url": "https://acme.pagerduty.com/incidents/" + page},
			"role":     map[string]any{"id": "P8PQO4R", "summary": "Incident Commander", "type": "role_reference"},
			"assignee": map[string]any{"id": "P75B6QD", "summary": "Ann", "type": "user_reference"},
		}}}})
	send(role)

	var inc struct {
		Commander string `json:"commander"`
		Roles     []struct {
			Name, Person string
		} `json:"roles"`
		Timeline []struct{ Kind, Summary string } `json:"timeline"`
	}
	require.Eventually(t, func() bool {
		getJSON(t, base+"/api/v1/incidents/INC-1", &inc)
		return len(inc.Roles) == 1
	}, 10*time.Second, 50*time.Millisecond, "the role on the record")
	require.Equal(t, "Incident Commander", inc.Roles[0].Name)
	require.Equal(t, "Ann", inc.Roles[0].Person)
	require.Equal(t, "Ann", inc.Commander, "the commander role leads")
	require.True(t, slices.ContainsFunc(inc.Timeline, func(e struct{ Kind, Summary string }) bool {
		return e.Kind == "role.assigned" && strings.Contains(e.Summary, "Ann is Incident Commander")
	}), "%+v", inc.Timeline)

	rolesNote := func() []string {
		var out []string
		for _, n := range pd.Notes(page) {
			if strings.Contains(n, "[incidenthub INC-1 roles]") {
				out = append(out, n)
			}
		}
		return out
	}
	// River looks for scheduled jobs every few seconds.
	require.Eventually(t, func() bool { return len(rolesNote()) == 1 }, 20*time.Second, 100*time.Millisecond, "the open roles")
	require.Contains(t, rolesNote()[0], "nobody holds the communications role yet")
	require.Contains(t, rolesNote()[0], "Held: Incident Commander: Ann.")

	fix := deployStatus(t, 8, stamp(time.Now().UTC()))
	github(fix, "fix")
	github(fix, "fix-again")
	require.Eventually(t, func() bool { return len(events.Sent()) == 2 }, 10*time.Second, 20*time.Millisecond, "the fix's change event")
	time.Sleep(time.Second)
	require.Len(t, events.Sent(), 2, "one per change")
	require.Len(t, rolesNote(), 1)
}

// notesHub runs a hub that writes PagerDuty notes (pagerduty names the
// double), with the payments service watching acme/payments plus
// service's settings, and GitHub's webhooks on; edits are more
// replacements in the configuration, old then new.
func notesHub(t *testing.T, pagerduty, service string, edits ...string) (path, base string, hub *hubProcess) {
	t.Helper()
	addr := freeAddr(t)
	base = "http://" + addr
	path, _ = testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg := strings.Replace(string(text), "pagerduty: {webhook_secrets:",
		"pagerduty: {api_token: pd-token, from_email: oncall@example.com, "+pagerduty+", webhook_secrets:", 1)
	cfg = strings.Replace(cfg, "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [acme/payments], "+service+"}", 1)
	for i := 0; i+1 < len(edits); i += 2 {
		require.Contains(t, cfg, edits[i])
		cfg = strings.Replace(cfg, edits[i], edits[i+1], 1)
	}
	cfg += fmt.Sprintf("github: {webhook_secrets: [%q]}\n", githubSecret)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	hub = startHub(t, path, base)
	return path, base, hub
}
