package pagerduty_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/incident"
)

func triageRecord() (*incident.Record, *incident.Page) {
	paged := time.Date(2026, 4, 1, 2, 7, 0, 0, time.UTC)
	rec := &incident.Record{ID: 12, Title: "Checkout latency", Service: "payments", Severity: "SEV2", OpenedAt: paged,
		Pages: []*incident.Page{{ID: "PAGE1", TriggeredAt: paged}},
		Changes: []incident.Change{
			{Key: "d1", Kind: incident.ChangeDeploy, Repo: "acme/payments", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
				Environment: "production", State: "success", Actor: "Codertocat", URL: "https://github.com/acme/payments/deployments",
				At: paged.Add(-12 * time.Minute)},
			{Key: "m1", Kind: incident.ChangeMerge, Repo: "acme/payments", PRNumber: 88, Title: "Revert pool change",
				Actor: "ana", URL: "https://github.com/acme/payments/pull/88", At: paged.Add(-95 * time.Minute)},
			{Key: "old", Kind: incident.ChangeMerge, Repo: "acme/payments", PRNumber: 80, Title: "Long ago", At: paged.Add(-3 * time.Hour)},
			{Key: "fix", Kind: incident.ChangeMerge, Repo: "acme/payments", PRNumber: 90, Title: "The fix", At: paged.Add(10 * time.Minute)},
		}}
	return rec, rec.Pages[0]
}

// The triage note names the changes before the page, newest first, how
// long before, and links; then the playbook and the record.
func TestTriageNote(t *testing.T) {
	t.Parallel()
	rec, page := triageRecord()
	note, marker := pagerduty.TriageNote(rec, page, 2*time.Hour, "https://wiki.example.com/playbooks/payments")
	require.Equal(t, "[incidenthub INC-12 triage]", marker)
	require.Equal(t, `incidenthub INC-12 on payments (SEV2)
Changes to payments in the 2h before this page, newest first:
- 12m before: Deploy of acme/payments@`+"\u200b"+`f95f852 to production: success by Codertocat https://github.com/acme/payments/deployments
- 1h35m before: Merged acme/payments#`+"\u200b"+`88: Revert pool change by ana https://github.com/acme/payments/pull/88
Playbook: https://wiki.example.com/playbooks/payments
The record: incidenthub incidents show INC-12 (GET /api/v1/incidents/INC-12)
[incidenthub INC-12 triage]`, note)

	rec.Changes = nil
	note, _ = pagerduty.TriageNote(rec, page, 2*time.Hour, "")
	require.Contains(t, note, "No deploys, merges or releases of payments in the 2h before this page.")
	require.Contains(t, note, "No playbook is configured for payments.")
}

// Whatever the payloads held, the note stays within PagerDuty's limit,
// its lines stay lines, and nobody is mentioned.
func TestTriageNoteBounded(t *testing.T) {
	t.Parallel()
	rec, page := triageRecord()
	rec.Changes = nil
	for i := range 500 {
		rec.Changes = append(rec.Changes, incident.Change{Key: "c", Kind: incident.ChangeMerge, Repo: "acme/payments", PRNumber: i,
			Title: "@team\n- forged line " + strings.Repeat("x", 5000), Actor: "@ops", At: page.TriggeredAt.Add(-time.Duration(i) * time.Second)})
	}
	note, _ := pagerduty.TriageNote(rec, page, 2*time.Hour, "javascript:alert(1)")
	require.Less(t, len(note), 25_000)
	require.Less(t, len(note), 5_000, "a note to read at 3 a.m.")
	require.Contains(t, note, "- and 490 more: incidenthub changes list --service payments")
	require.NotContains(t, note, "\n- forged")
	require.NotContains(t, note, "javascript:")
	require.NotRegexp(t, "@[^\u200b]", note)
}

// A live-change note is one line: what changed, how long after the
// incident opened, a link, and its marker.
func TestLiveChangeNote(t *testing.T) {
	t.Parallel()
	rec, _ := triageRecord()
	fix := rec.Changes[3]
	note, marker := pagerduty.LiveChangeNote(rec, &fix)
	require.Equal(t, "[incidenthub INC-12 change fix]", marker)
	require.Equal(t, "incidenthub INC-12: a change to payments while this incident is open, 10m after it opened: Merged acme/payments#\u200b90: The fix [incidenthub INC-12 change fix]", note)
}
