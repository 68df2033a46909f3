package incident_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// No string of an event keeps a NUL or invalid UTF-8, however deep.
func TestEventClean(t *testing.T) {
	t.Parallel()
	bad := "a\x00b\xffc"
	ev := incident.Event{ID: bad, Text: bad, OccurredAt: time.Unix(1, 0),
		Snapshot:  &incident.Page{Title: bad, Assignees: []string{bad}},
		Change:    &incident.Change{Title: bad},
		FollowUps: []incident.FollowUpRequest{{Title: bad}},
		Ticket:    &incident.Ticket{Summary: bad, Labels: []string{bad}},
	}
	ev.Clean()
	want := "a\uFFFDb\uFFFDc"
	for _, got := range []string{ev.ID, ev.Text, ev.Snapshot.Title, ev.Snapshot.Assignees[0], ev.Change.Title,
		ev.FollowUps[0].Title, ev.Ticket.Summary, ev.Ticket.Labels[0]} {
		require.Equal(t, want, got)
	}
	require.Equal(t, time.Unix(1, 0), ev.OccurredAt, "only strings change")
	require.Equal(t, "plain", incident.CleanText("plain"))
}
