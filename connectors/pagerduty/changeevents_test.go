package pagerduty_test

import (
	"context"
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
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// The events double takes PagerDuty's own example, and refuses what the
// Events API documents as wrong.
func TestEventsDoubleChecksDocumentedFields(t *testing.T) {
	t.Parallel()
	example := readFile(t, "docs.events-v2.change-event.request.json")
	_, err := pagerdutytest.Validate(example)
	require.NoError(t, err, "PagerDuty's own example")
	for name, body := range map[string]string{
		"unknown field":     `{"routing_key":"k","payload":{"summary":"s","severity":"info"}}`,
		"no summary":        `{"routing_key":"k","payload":{"source":"s"}}`,
		"long summary":      `{"routing_key":"k","payload":{"summary":"` + strings.Repeat("x", 1025) + `"}}`,
		"no routing key":    `{"payload":{"summary":"s"}}`,
		"bad timestamp":     `{"routing_key":"k","payload":{"summary":"s","timestamp":"yesterday"}}`,
		"link without href": `{"routing_key":"k","payload":{"summary":"s"},"links":[{"text":"t"}]}`,
	} {
		_, err := pagerdutytest.Validate([]byte(body))
		require.Error(t, err, name)
	}
}

const routingKey = "R0UT1NGKEY0PAYMENTS0000000000001"

type changeEventBundle struct {
	events *pagerdutytest.Events
	worker *pagerduty.ChangeEventWorker
	change incident.Change
}

func setupChangeEvents(t *testing.T, key string) *changeEventBundle {
	t.Helper()
	events := pagerdutytest.NewEvents(t)
	s := storetest.SQLite(t)
	at := time.Date(2026, 11, 30, 3, 48, 0, 0, time.UTC)
	c := incident.Change{Key: "github:deployment:acme/payments:9", Service: "payments", Kind: incident.ChangeDeploy,
		Repo: "acme/payments", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Ref: "main", Environment: "production",
		State: "success", Actor: "octocat", Title: "Fix #12 for @everyone " + strings.Repeat("é", 2000),
		URL: "https://github.com/acme/payments/deployments/9", At: at, StateAt: at, SucceededAt: at}
	require.NoError(t, s.Update(context.Background(), func(tx *store.Tx) error { return tx.SaveChange(context.Background(), &c) }))
	services := []config.Service{{Name: "payments", PagerDutyRoutingKey: config.NewSecret(key)}}
	w := pagerduty.NewChangeEventWorker(config.PagerDuty{EventsURL: events.URL}, services, s, slog.New(slog.DiscardHandler))
	return &changeEventBundle{events: events, worker: w, change: c}
}

func (b *changeEventBundle) work(t *testing.T) error {
	t.Helper()
	return b.worker.Work(context.Background(), &river.Job[pagerduty.ChangeEventArgs]{
		JobRow: &rivertype.JobRow{}, Args: pagerduty.ChangeEventArgs{ChangeKey: b.change.Key}})
}

func TestChangeEventSent(t *testing.T) {
	t.Parallel()
	b := setupChangeEvents(t, routingKey)
	require.NoError(t, b.work(t))
	sent := b.events.Sent()
	require.Len(t, sent, 1)
	ev := sent[0]
	require.Equal(t, routingKey, ev.RoutingKey)
	require.Equal(t, "2026-11-30T03:48:00.000Z", ev.Payload.Timestamp, "when it took effect")
	require.Equal(t, "acme/payments", ev.Payload.Source)
	require.True(t, strings.HasPrefix(ev.Payload.Summary, "Deploy of acme/payments@"), ev.Payload.Summary)
	require.Contains(t, ev.Payload.Summary, "f95f852 to production: success by octocat")
	require.LessOrEqual(t, len([]rune(ev.Payload.Summary)), pagerduty.MaxChangeSummary)
	require.Len(t, ev.Links, 1)
	require.Equal(t, "https://github.com/acme/payments/deployments/9", ev.Links[0].Href)
	require.Equal(t, "github:deployment:acme/payments:9", ev.Payload.CustomDetails["incidenthub_change"])
	title := ev.Payload.CustomDetails["title"].(string)
	require.NotContains(t, title, "@everyone", "no mention")
	require.NotContains(t, title, "#12", "no reference")
}

// The Events API's own rate limit: a 429 the client's retry cannot wait
// out makes the job wait as long as PagerDuty asks, without an attempt.
func TestChangeEventHonoursRateLimit(t *testing.T) {
	t.Parallel()
	b := setupChangeEvents(t, routingKey)
	b.events.Faults = []int{429}
	b.events.FaultHeaders = map[string]string{"Retry-After": "120"}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, 120*time.Second, snooze.Duration)
	require.Empty(t, b.events.Sent())
	require.NoError(t, b.work(t))
	require.Len(t, b.events.Sent(), 1)
}

// A service whose routing key was removed since holds its change events,
// and says why.
func TestChangeEventHeldWithoutRoutingKey(t *testing.T) {
	t.Parallel()
	b := setupChangeEvents(t, "")
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Empty(t, b.events.Sent())
}
