package pagerduty_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline/pipelinetest"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
	"github.com/incidenthub/incidenthub/router"
)

// When the grace time ends, a page is told once which expected roles
// nobody holds; roles assigned meanwhile, or an incident already over,
// ask for no note.
func TestRolesNote(t *testing.T) {
	t.Parallel()
	acked := time.Now().Add(-16 * time.Minute)
	for _, tc := range []struct {
		name   string
		status incident.Status
		roles  []incident.Role
		want   string // "" for no note
	}{
		{name: "none held", status: incident.StatusAcknowledged,
			want: "incidenthub INC-1 (SEV1): acknowledged 16m ago, and nobody holds the commander and communications roles yet. SEV1 incidents expect: commander, communications.\n" +
				"Assign them under Incident Roles on this page, so that everyone knows who leads and who keeps people informed. [incidenthub INC-1 roles]"},
		{name: "commander held", status: incident.StatusAcknowledged,
			roles: []incident.Role{{ID: "R1", Name: "Incident Commander", Person: "Ann", Since: acked}, {ID: "R2", Name: "Communications Lead", Since: acked}},
			want: "incidenthub INC-1 (SEV1): acknowledged 16m ago, and nobody holds the communications role yet. SEV1 incidents expect: commander, communications.\n" +
				"Held: Incident Commander: Ann.\n" +
				"Assign them under Incident Roles on this page, so that everyone knows who leads and who keeps people informed. [incidenthub INC-1 roles]"},
		{name: "all held", status: incident.StatusAcknowledged,
			roles: []incident.Role{{ID: "R1", Name: "Incident Commander", Person: "Ann", Since: acked}, {ID: "R2", Name: "Communications Lead", Person: "Bo", Since: acked}}},
		{name: "resolved", status: incident.StatusResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := pagerdutytest.New(t)
			s := storetest.SQLite(t)
			rec := &incident.Record{Title: "Checkout latency", Status: tc.status, Kind: incident.KindIncident, Severity: "SEV1",
				Service: "checkout", CorrelationKey: "checkout", OpenedAt: acked.Add(-time.Minute), AcknowledgedAt: acked, Roles: tc.roles,
				Pages: []*incident.Page{{ID: "Q3B15VLMF3ASBD", Title: "Checkout latency", ServiceID: "PC1", Status: incident.PageAcknowledged}}}
			require.NoError(t, s.Update(context.Background(), func(tx *store.Tx) error { return tx.SaveRecord(context.Background(), rec, nil) }))
			cfg := config.PagerDuty{APIToken: config.NewSecret("pd-token"), FromEmail: "oncall@example.com", BaseURL: fake.URL}
			sevs := []config.Severity{{Name: "SEV1", RolesExpected: []string{"commander", "communications"}}}
			w := pagerduty.NewRolesWorker(cfg, sevs, s, pipelinetest.New(s, router.Rules{}).Reporter, slog.New(slog.DiscardHandler))
			job := &river.Job[pagerduty.RolesNoteArgs]{JobRow: &rivertype.JobRow{}, Args: pagerduty.RolesNoteArgs{IncidentID: rec.ID, PageID: "Q3B15VLMF3ASBD"}}
			require.NoError(t, w.Work(context.Background(), job))
			require.NoError(t, w.Work(context.Background(), job))
			notes := fake.Notes("Q3B15VLMF3ASBD")
			if tc.want == "" {
				require.Empty(t, notes)
				return
			}
			require.Equal(t, []string{tc.want}, notes)
		})
	}
}
