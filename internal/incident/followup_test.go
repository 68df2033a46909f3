package incident_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// A follow-up's ticket label is the same on every attempt, and differs
// for the same words asked for on another incident, or on the same
// number in a rebuilt database (another time).
func TestTicketLabelFor(t *testing.T) {
	t.Parallel()
	asked := time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	f := incident.FollowUp{IncidentID: 3, Key: "github:task:add an alert", RequestedAt: asked}
	label := incident.TicketLabelFor(&f)
	require.Regexp(t, regexp.MustCompile(`^incidenthub-[0-9a-f]{16}$`), label, "a valid Jira label: no spaces")
	same := f
	require.Equal(t, label, incident.TicketLabelFor(&same))
	for _, other := range []incident.FollowUp{
		{IncidentID: 4, Key: f.Key, RequestedAt: asked},
		{IncidentID: 3, Key: "github:task:add an alarm", RequestedAt: asked},
		{IncidentID: 3, Key: f.Key, RequestedAt: asked.Add(time.Millisecond)},
	} {
		require.NotEqual(t, label, incident.TicketLabelFor(&other))
	}
}
