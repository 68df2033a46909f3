package hubevent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// A report is stored once under its key, found again, and read back by
// the pipeline as the event the router decides on.
func TestReportRoundTrip(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	r := hubevent.NewReporter(s, s)
	at := time.Date(2026, 4, 2, 9, 30, 0, 0, time.UTC)
	report := hubevent.Report{Key: hubevent.RecordKey(incident.EventReviewOpened, 12), Type: incident.EventReviewOpened, At: at,
		IncidentID: 12, IssueNumber: 7, URL: "https://github.com/acme/incidents/issues/7"}
	require.NoError(t, r.Report(t.Context(), report))
	require.NoError(t, r.Report(t.Context(), report), "reported again: stored once, no error")
	got, ok, err := r.Reported(t.Context(), "review.opened:INC-12")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 7, got.IssueNumber)
	_, ok, err = r.Reported(t.Context(), "review.opened:INC-13")
	require.NoError(t, err)
	require.False(t, ok)

	d, err := s.Delivery(t.Context(), incident.SourceHub, report.Key)
	require.NoError(t, err)
	require.Equal(t, string(incident.EventReviewOpened), d.Event)
	evs, err := hubevent.Normalizer{}.Normalize(d)
	require.NoError(t, err)
	require.Equal(t, []incident.Event{{Source: incident.SourceHub, ID: report.Key, Type: incident.EventReviewOpened, OccurredAt: at,
		Subject: "INC-12", RecordID: 12, IssueNumber: 7, URL: report.URL}}, evs)

	_, err = hubevent.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceHub, ID: "x", Body: []byte(`{"key":"y","type":"review.opened","incident_id":1}`)})
	require.Error(t, err, "a body under another key is refused")
	require.Error(t, r.Report(t.Context(), hubevent.Report{Key: "k", Type: incident.EventReviewOpened, IncidentID: 1}), "a report needs its time")
}

// A task-list item withdrawn and asked for again keeps its follow-up key,
// and gets reports of its own.
func TestFollowUpKeyTellsIncarnationsApart(t *testing.T) {
	t.Parallel()
	first := incident.FollowUp{Key: "github:task:add an alert", RequestedAt: time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)}
	again := first
	again.RequestedAt = first.RequestedAt.Add(5 * time.Minute)
	require.NotEqual(t, hubevent.FollowUpKey(incident.EventFollowUpFiling, &first), hubevent.FollowUpKey(incident.EventFollowUpFiling, &again))
	require.Equal(t, hubevent.FollowUpKey(incident.EventFollowUpFiling, &first), hubevent.FollowUpKey(incident.EventFollowUpFiling, &first))
	require.Equal(t, "note.added:INC-3:PAGE1", hubevent.RecordKey(incident.EventNoteAdded, 3, "PAGE1"))
}

// Hub events come only from the hub's own jobs, but a stored one is
// normalised like any delivery: whatever it holds, never a panic, and an
// event only under its own key.
func FuzzNormalize(f *testing.F) {
	f.Add("review.opened:INC-12", []byte(`{"key":"review.opened:INC-12","type":"review.opened","at":"2026-04-02T09:30:00Z","incident_id":12,"issue_number":7}`))
	f.Add("x", []byte(`{"key":"x","type":"action.failed","incident_id":1,"text":"job 4"}`))
	f.Add("x", []byte(`{"key":"x","incident_id":-1}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		evs, err := hubevent.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceHub, ID: id, Body: body})
		if err != nil {
			return
		}
		require.Len(t, evs, 1)
		require.Equal(t, id, evs[0].ID)
		require.Positive(t, evs[0].RecordID)
	})
}
