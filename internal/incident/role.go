package incident

import (
	"strings"
	"time"
	"unicode"
)

// Role is an incident role someone holds (commander, communications
// lead, scribe), as PagerDuty's incident roles assign them.
type Role struct {
	// ID is PagerDuty's role id; Name its display name.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Person holds the role; empty once it is unassigned.
	Person string `json:"person,omitempty"`
	// Since is when Person was assigned, or the role unassigned.
	Since time.Time `json:"since"`
}

// RoleChange is what an incident.role.assigned event says: the role, who
// holds it now (empty: unassigned) and who held it before.
type RoleChange struct {
	ID, Name       string
	Person, Before string
}

// Fills reports whether a role named name is the expected role want:
// "commander" is filled by "Incident Commander", "communications" and
// "communications lead" by "Communications Lead". Whole words are compared
// without case, so that a severity's roles_expected need not spell
// PagerDuty's display names exactly.
func Fills(name, want string) bool {
	w := words(want)
	return w != "" && strings.Contains(" "+words(name)+" ", " "+w+" ")
}

// words is s in lower case with every run of other than letters and
// digits made one space.
func words(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// OpenRoles returns the roles of expected that nobody holds on rec.
func OpenRoles(rec *Record, expected []string) []string {
	var open []string
	for _, want := range expected {
		held := false
		for _, r := range rec.Roles {
			if r.Person != "" && Fills(r.Name, want) {
				held = true
				break
			}
		}
		if !held {
			open = append(open, want)
		}
	}
	return open
}

// CommanderRole is the commander role someone holds (the longest-held
// when several pages name one), if any.
func (r *Record) CommanderRole() (Role, bool) {
	var lead Role
	for _, role := range r.Roles {
		if role.Person != "" && Fills(role.Name, "commander") && (lead.Person == "" || role.Since.Before(lead.Since)) {
			lead = role
		}
	}
	return lead, lead.Person != ""
}

// HeldRoles are the roles someone holds now.
func (r *Record) HeldRoles() []Role {
	var out []Role
	for _, role := range r.Roles {
		if role.Person != "" {
			out = append(out, role)
		}
	}
	return out
}
