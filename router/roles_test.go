package router_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// roleEvent is PagerDuty's documented incident.role.assigned, through
// the real connector, on page, at occurred, naming person (empty:
// unassigned) for the role.
func roleEvent(t *testing.T, id, page, occurred, roleID, roleName, person string) incident.Event {
	t.Helper()
	env := loadPayload(t, "docs.incident.priority_updated.json")
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "pagerduty", "docs.data-types.incident_role_assignment.json"))
	require.NoError(t, err)
	var data map[string]any
	require.NoError(t, json.Unmarshal(raw, &data))
	a := data["incident_role_assignments"].([]any)[0].(map[string]any)
	a["incident"].(map[string]any)["id"] = page
	a["role"] = map[string]any{"id": roleID, "summary": roleName, "type": "role_reference"}
	if person == "" {
		a["assignee"], a["old_assignee"] = nil, a["assignee"]
	} else {
		a["assignee"].(map[string]any)["summary"] = person
	}
	p := env.with(map[string]any{"id": id, "event_type": "incident.role.assigned", "occurred_at": occurred})
	p.event()["data"] = data
	return p.normalize(t)
}

// Role assignments set the record's roles and its timeline; whoever holds
// the commander role leads, else the first to acknowledge; the newest
// assignment of a role wins whatever order they are decided in.
func TestDecideRoles(t *testing.T) {
	t.Parallel()
	w := newWorld()
	ack := loadPayload(t, "incident.acknowledged.json").with(map[string]any{"id": "ack", "occurred_at": "2021-06-04T13:50:00Z", "data.id": "PBAZLIU"})
	w.apply(t, ack.normalize(t))
	require.Equal(t, "PIG 208", w.records[1].Commander, "the first acknowledger, until someone is commander")

	d := w.apply(t, roleEvent(t, "r1", "PBAZLIU", "2021-06-04T13:52:00Z", "RIC", "Incident Commander", "Ann"))
	rec := w.records[1]
	require.Equal(t, "Ann", rec.Commander)
	require.Equal(t, []incident.Role{{ID: "RIC", Name: "Incident Commander", Person: "Ann", Since: at("2021-06-04T13:52:00Z")}}, rec.Roles)
	require.Contains(t, rec.Responders, "Ann")
	require.Equal(t, incident.EntryRoleAssigned, d.Entries[len(d.Entries)-1].Kind)
	require.Contains(t, d.Entries[len(d.Entries)-1].Summary, "Ann is Incident Commander on")

	w.apply(t, roleEvent(t, "r3", "PBAZLIU", "2021-06-04T14:10:00Z", "RIC", "Incident Commander", ""))
	// An older assignment, delivered late, changes nothing.
	w.apply(t, roleEvent(t, "r2", "PBAZLIU", "2021-06-04T14:00:00Z", "RIC", "Incident Commander", "Bo"))
	rec = w.records[1]
	require.Equal(t, "PIG 208", rec.Commander, "unassigned: the first acknowledger leads again")
	require.Equal(t, []incident.Role{{ID: "RIC", Name: "Incident Commander", Since: at("2021-06-04T14:10:00Z")}}, rec.Roles)
	require.Contains(t, w.kinds(1), incident.EntryRoleUnassigned)

	// A role on a page the hub has not seen waits for it.
	d = w.apply(t, roleEvent(t, "r4", "PUNKNOWN", "2021-06-04T14:11:00Z", "RIC", "Incident Commander", "Ann"))
	require.NotEmpty(t, d.Defer)
}

// An acknowledged incident whose severity expects roles gets one check
// per page at the end of the grace time: scheduled when it is first
// acknowledged, when a page joins, and when its severity comes to expect
// roles; never with the notes off.
func TestRolesChecks(t *testing.T) {
	t.Parallel()
	checks := func(d router.Decision) []incident.Action {
		var out []incident.Action
		for _, a := range d.Actions {
			if a.Kind == incident.ActionRolesNote {
				out = append(out, a)
			}
		}
		return out
	}
	w := newWorld()
	w.rules.RolesNotes = true
	w.rules.Severities = append([]router.Severity(nil), rules.Severities...)
	w.rules.Severities[0].RolesExpected, w.rules.Severities[0].RolesGrace = []string{"commander", "communications"}, 15*time.Minute

	trigger := loadPayload(t, "incident.triggered.json")
	p1 := map[string]any{"id": "P1", "type": "priority_reference", "summary": "P1"}
	require.Empty(t, checks(w.apply(t, trigger.with(map[string]any{"id": "t1", "data.id": "PAGE1", "data.priority": p1}).normalize(t))),
		"not acknowledged yet")
	ack := loadPayload(t, "incident.acknowledged.json")
	due := at("2021-06-04T13:55:30.394Z").Add(15 * time.Minute)
	require.Equal(t, []incident.Action{{Kind: incident.ActionRolesNote, Target: "PAGE1", RunAt: due}},
		checks(w.apply(t, ack.with(map[string]any{"id": "a1", "data.id": "PAGE1", "data.priority": p1}).normalize(t))))
	require.Empty(t, checks(w.apply(t, ack.with(map[string]any{"id": "a1-again", "data.id": "PAGE1", "data.priority": p1}).normalize(t))),
		"already scheduled")
	require.Equal(t, []incident.Action{{Kind: incident.ActionRolesNote, Target: "PAGE2", RunAt: due}},
		checks(w.apply(t, trigger.with(map[string]any{"id": "t2", "data.id": "PAGE2"}).normalize(t))), "a page that joins")

	// A SEV2 acknowledged, then raised to SEV1.
	w2 := newWorld()
	w2.rules = w.rules
	require.Empty(t, checks(w2.apply(t, ack.with(map[string]any{"id": "a", "data.id": "PAGE3"}).normalize(t))), "SEV2 expects none")
	raised := loadPayload(t, "incident.priority_updated.json").with(map[string]any{"id": "p", "data.id": "PAGE3",
		"occurred_at": "2021-06-04T14:00:00Z", "data.priority": p1, "data.status": "acknowledged"})
	require.Equal(t, []incident.Action{{Kind: incident.ActionRolesNote, Target: "PAGE3", RunAt: due}}, checks(w2.apply(t, raised.normalize(t))))

	w3 := newWorld()
	w3.rules.Severities = w.rules.Severities
	require.Empty(t, checks(w3.apply(t, ack.with(map[string]any{"id": "a", "data.id": "PAGE1", "data.priority": p1}).normalize(t))),
		"off unless notes can be written")
}
