package router

import (
	"slices"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// assignRole applies a role assignment, whatever order they are decided
// in: the newest assignment of a role wins, and an older one delivered
// late changes nothing.
func assignRole(rec *incident.Record, ev incident.Event) {
	rc := ev.Role
	i := slices.IndexFunc(rec.Roles, func(r incident.Role) bool {
		return rc.ID != "" && r.ID == rc.ID || rc.ID == "" && r.Name == rc.Name
	})
	if i < 0 {
		rec.Roles = append(rec.Roles, incident.Role{ID: rc.ID, Name: rc.Name, Person: rc.Person, Since: ev.OccurredAt})
	} else if !ev.OccurredAt.Before(rec.Roles[i].Since) {
		rec.Roles[i] = incident.Role{ID: rc.ID, Name: rc.Name, Person: rc.Person, Since: ev.OccurredAt}
	}
	addResponder(rec, rc.Person)
}

// lead names the commander: whoever holds PagerDuty's commander role,
// else the first to acknowledge.
func lead(rec *incident.Record) {
	rec.Commander = rec.AckedBy
	if role, ok := rec.CommanderRole(); ok {
		rec.Commander = role.Person
	}
}

// rolesChecks schedules, for an acknowledged incident whose severity
// expects roles, a check on its pages at the end of the grace time: the
// job tells each page once which roles are still open then. They are
// scheduled when the record is first acknowledged, when its severity
// comes to expect roles, and for a page that joins afterwards (joined).
func (r Rules) rolesChecks(before, rec *incident.Record, joined string) []incident.Action {
	if !r.RolesNotes || rec.Kind != incident.KindIncident || rec.AcknowledgedAt.IsZero() {
		return nil
	}
	sev, ok := r.severityRules(rec.Severity)
	if !ok || len(sev.RolesExpected) == 0 {
		return nil
	}
	check := func(page string) incident.Action {
		return incident.Action{Kind: incident.ActionRolesNote, Target: page, RunAt: rec.AcknowledgedAt.Add(sev.RolesGrace)}
	}
	if before != nil && !before.AcknowledgedAt.IsZero() && r.expectsRoles(before.Severity) && before.Kind == incident.KindIncident {
		if joined == "" {
			return nil
		}
		return []incident.Action{check(joined)}
	}
	out := make([]incident.Action, 0, len(rec.Pages))
	for _, p := range rec.Pages {
		out = append(out, check(p.ID))
	}
	return out
}

func (r Rules) expectsRoles(severity string) bool {
	s, ok := r.severityRules(severity)
	return ok && len(s.RolesExpected) > 0
}
