package pagerduty_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline/pipelinetest"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
	"github.com/incidenthub/incidenthub/router"
)

type noteBundle struct {
	hub    *pipelinetest.Hub
	fake   *pagerdutytest.Fake
	worker *pagerduty.NoteWorker
	store  *store.Store
	id     int64
}

func setupNotes(t *testing.T) *noteBundle {
	t.Helper()
	fake := pagerdutytest.New(t)
	s := storetest.SQLite(t)
	rec := &incident.Record{Title: "Checkout latency", Status: incident.StatusResolved, Kind: incident.KindIncident,
		Severity: "SEV2", Service: "checkout", CorrelationKey: "checkout", OpenedAt: time.Now(),
		ReviewDoc: "https://github.com/acme/incidents/issues/7", ReviewDocNumber: 7}
	require.NoError(t, s.Update(context.Background(), func(tx *store.Tx) error { return tx.SaveRecord(context.Background(), rec, nil) }))
	cfg := config.PagerDuty{APIToken: config.NewSecret("pd-token"), FromEmail: "oncall@example.com", BaseURL: fake.URL}
	hub := pipelinetest.New(s, router.Rules{})
	return &noteBundle{fake: fake, hub: hub, worker: pagerduty.NewNoteWorker(cfg, s, hub.Reporter, slog.New(slog.DiscardHandler)), store: s, id: rec.ID}
}

func (b *noteBundle) work(t *testing.T) error {
	t.Helper()
	return b.worker.Work(context.Background(), &river.Job[pagerduty.PageNoteArgs]{
		JobRow: &rivertype.JobRow{}, Args: pagerduty.PageNoteArgs{IncidentID: b.id, PageID: "Q3B15VLMF3ASBD"},
	})
}

func TestNoteAddedOnce(t *testing.T) {
	t.Parallel()
	b := setupNotes(t)
	require.NoError(t, b.work(t))
	require.NoError(t, b.work(t))
	notes := b.fake.Notes("Q3B15VLMF3ASBD")
	require.Equal(t, []string{"Review doc for INC-1 (Checkout latency): https://github.com/acme/incidents/issues/7 [incidenthub INC-1]"}, notes)
	require.Equal(t, []string{"oncall@example.com"}, b.fake.Froms(), "PagerDuty's From header names the configured user")
}

// Each filed follow-up gets its own note on the page, once, next to the
// review doc's.
func TestFollowUpNoteAddedOnce(t *testing.T) {
	t.Parallel()
	b := setupNotes(t)
	require.NoError(t, b.work(t))
	f := incident.FollowUp{IncidentID: b.id, Key: "github:comment:5:0", Title: "Alert on pool saturation", Status: incident.FollowUpOpen,
		RequestedAt: time.Now(), JiraID: "10001", JiraKey: "PAY-1", JiraURL: "https://acme.atlassian.net/browse/PAY-1"}
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error { return tx.SaveFollowUp(context.Background(), &f) }))
	job := &river.Job[pagerduty.PageNoteArgs]{JobRow: &rivertype.JobRow{},
		Args: pagerduty.PageNoteArgs{IncidentID: b.id, PageID: "Q3B15VLMF3ASBD", FollowUpKey: f.Key}}
	require.NoError(t, b.worker.Work(context.Background(), job))
	require.NoError(t, b.worker.Work(context.Background(), job))
	notes := b.fake.Notes("Q3B15VLMF3ASBD")
	require.Len(t, notes, 2)
	require.Equal(t, "Follow-up of INC-1 filed in Jira: PAY-1 Alert on pool saturation (https://acme.atlassian.net/browse/PAY-1) [incidenthub INC-1 PAY-1]", notes[1])
}

// Whatever PagerDuty does, the page gets one note.
func TestNoteExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults []int
	}{
		{"500 after adding it", []int{500}},
		{"502 then 503", []int{502, 503}},
		{"429", []int{429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupNotes(t)
			b.fake.Faults = tc.faults
			for range 5 {
				if err := b.work(t); err == nil {
					break
				}
			}
			require.Len(t, b.fake.Notes("Q3B15VLMF3ASBD"), 1)
		})
	}
}

// A rate limit waits as long as PagerDuty asks (ratelimit-reset, or
// Retry-After), without spending an attempt: go-pagerduty's error keeps
// only the status, so the wait comes from the answer's headers.
func TestNoteHonoursRateLimitHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header, value string
		want          time.Duration
	}{
		{"Retry-After", "120", 120 * time.Second},
		{"ratelimit-reset", "300", 300 * time.Second},
		{"Retry-After", "7200", actions.MaxSnooze},
	} {
		b := setupNotes(t)
		// The client's own retry spends the first; the second reaches the job.
		b.fake.Faults = []int{429, 429}
		b.fake.FaultHeaders = map[string]string{tc.header: tc.value}
		err := b.work(t)
		var snooze *river.JobSnoozeError
		require.ErrorAs(t, err, &snooze, tc.header)
		require.Equal(t, tc.want, snooze.Duration, tc.header)
		require.Empty(t, b.fake.Notes("Q3B15VLMF3ASBD"))
	}
}

// The note the job added is reported, and the report is decided in order.
func TestNoteReported(t *testing.T) {
	t.Parallel()
	b := setupNotes(t)
	require.NoError(t, b.work(t))
	require.NoError(t, b.work(t))
	d, err := b.store.Delivery(context.Background(), incident.SourceHub, "note.added:INC-1:Q3B15VLMF3ASBD")
	require.NoError(t, err)
	require.Equal(t, string(incident.EventNoteAdded), d.Event)
	b.hub.Process(t)
	d, err = b.store.Delivery(context.Background(), incident.SourceHub, "note.added:INC-1:Q3B15VLMF3ASBD")
	require.NoError(t, err)
	require.Equal(t, "processed", string(d.Status))
}

func TestNoteRefusedIsFinal(t *testing.T) {
	t.Parallel()
	b := setupNotes(t)
	b.fake.Faults = []int{400}
	err := b.work(t)
	var cancel *river.JobCancelError
	require.True(t, errors.As(err, &cancel), "%v", err)
	require.ErrorContains(t, err, "PagerDuty refused (400)")
}

func TestNotesHeldWithoutCredentials(t *testing.T) {
	t.Parallel()
	require.Equal(t, "pagerduty.api_token is not set", pagerduty.NotesHeld(config.PagerDuty{FromEmail: "a@example.com"}))
	require.Equal(t, "pagerduty.from_email is not set", pagerduty.NotesHeld(config.PagerDuty{APIToken: config.NewSecret("t")}))
	w := pagerduty.NewNoteWorker(config.PagerDuty{}, nil, nil, slog.New(slog.DiscardHandler))
	err := w.Work(context.Background(), &river.Job[pagerduty.PageNoteArgs]{JobRow: &rivertype.JobRow{}, Args: pagerduty.PageNoteArgs{IncidentID: 1, PageID: "P"}})
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
}

// Ids from payloads end up in API paths: anything but a PagerDuty id is
// refused before a request is made.
func TestNoteRefusesHostilePageIDs(t *testing.T) {
	t.Parallel()
	b := setupNotes(t)
	for _, id := range []string{"../users/PABC", "P1?x=y", "P1/notes", "", "p1 2"} {
		err := b.worker.Work(context.Background(), &river.Job[pagerduty.PageNoteArgs]{
			JobRow: &rivertype.JobRow{}, Args: pagerduty.PageNoteArgs{IncidentID: b.id, PageID: id},
		})
		var cancel *river.JobCancelError
		require.ErrorAs(t, err, &cancel, id)
	}
	require.Empty(t, b.fake.Requests())
}
