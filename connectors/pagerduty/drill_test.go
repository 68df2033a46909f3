package pagerduty_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
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

// The drill's events are what the Events API documents: a trigger that
// says it is a drill first, with the drill's dedup key and the severity's
// rank; a resolve with the same key.
func TestDrillEvent(t *testing.T) {
	t.Parallel()
	rec := &incident.Record{ID: 7, Title: incident.DrillTitle("Checkout is slow @team"), Kind: incident.KindDrill,
		Service: "payments", Severity: "SEV2", Drill: "0a1b2c3d"}
	severities := []config.Severity{{Name: "SEV1"}, {Name: "SEV2"}, {Name: "SEV3"}, {Name: "SEV4"}}
	for action, check := range map[string]func(t *testing.T, ev pagerdutytest.AlertEvent){
		"trigger": func(t *testing.T, ev pagerdutytest.AlertEvent) {
			require.True(t, strings.HasPrefix(ev.Payload.Summary, "[DRILL] Checkout is slow @\u200bteam (INC-7, payments)"), ev.Payload.Summary)
			require.Equal(t, "error", ev.Payload.Severity, "SEV2 ranks second")
			require.Equal(t, true, ev.Payload.CustomDetails["drill"])
		},
		"resolve": func(t *testing.T, ev pagerdutytest.AlertEvent) { require.Nil(t, ev.Payload) },
	} {
		ev, err := pagerduty.DrillEvent(rec, action, "R0UT1NGKEY0DR1LLS000000000000001", severities)
		require.NoError(t, err)
		body, err := json.Marshal(ev)
		require.NoError(t, err)
		got, err := pagerdutytest.ValidateAlert(body)
		require.NoError(t, err, action)
		require.Equal(t, "incidenthub-drill:INC-7:0a1b2c3d", got.DedupKey)
		check(t, got)
	}
	_, err := pagerduty.DrillEvent(rec, "acknowledge", "key", severities)
	require.Error(t, err)
}

// A scenario's step is a note on the drill's open page, once however
// often the job runs, and a report that puts it on the timeline; a dry
// drill's step goes on the timeline only; an ended drill's steps stop.
func TestDrillStep(t *testing.T) {
	t.Parallel()
	fake := pagerdutytest.New(t)
	s := storetest.SQLite(t)
	ctx := context.Background()
	paged := &incident.Record{Title: "[DRILL] Checkout", Status: incident.StatusOpen, Kind: incident.KindDrill, Service: "payments",
		CorrelationKey: "drill:a", Drill: "a", OpenedAt: time.Now(),
		Pages: []*incident.Page{{ID: "PDRILL1", Status: incident.PageTriggered, ServiceID: "PA2P440"}}}
	dry := &incident.Record{Title: "[DRILL] Dry", Status: incident.StatusOpen, Kind: incident.KindDrill, Service: "payments",
		CorrelationKey: "drill:b", Drill: "b", OpenedAt: time.Now()}
	ended := &incident.Record{Title: "[DRILL] Over", Status: incident.StatusResolved, Kind: incident.KindDrill, Service: "payments",
		CorrelationKey: "drill:c", Drill: "c", OpenedAt: time.Now()}
	require.NoError(t, s.Update(ctx, func(tx *store.Tx) error {
		for _, r := range []*incident.Record{paged, dry, ended} {
			if err := tx.SaveRecord(ctx, r, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	hub := pipelinetest.New(s, router.Rules{})
	cfg := config.PagerDuty{APIToken: config.NewSecret("pd-token"), FromEmail: "oncall@example.com", BaseURL: fake.URL}
	w := pagerduty.NewDrillStepWorker(cfg, s, hub.Reporter, slog.New(slog.DiscardHandler))
	step := func(id int64) error {
		return w.Work(ctx, &river.Job[pagerduty.DrillStepArgs]{JobRow: &rivertype.JobRow{},
			Args: pagerduty.DrillStepArgs{IncidentID: id, Step: 2, StepKind: incident.StepDeploy, Summary: "Deploy of acme/payments@f95f852"}})
	}
	require.NoError(t, step(paged.ID))
	require.NoError(t, step(paged.ID))
	require.Equal(t, []string{"[DRILL] Scenario deploy: Deploy of acme/payments@\u200bf95f852 [incidenthub INC-1 step 2]"}, fake.Notes("PDRILL1"))
	require.NoError(t, step(dry.ID))
	require.NoError(t, step(ended.ID))
	hub.Process(t)
	for id, want := range map[int64]int{paged.ID: 1, dry.ID: 1, ended.ID: 0} {
		rec, err := s.Incident(ctx, id)
		require.NoError(t, err)
		var steps []string
		for _, e := range rec.Timeline {
			if strings.HasPrefix(e.Key, "drill.step:") {
				steps = append(steps, e.Summary)
				require.Equal(t, incident.EntryChange, e.Kind)
			}
		}
		require.Len(t, steps, want, rec.Ref())
	}
}
