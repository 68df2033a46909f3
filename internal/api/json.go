package api

import (
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// List is the answer of GET /api/v1/incidents.
type List struct {
	Incidents []Incident `json:"incidents"`
	// Next is the cursor of the following page, when there is one.
	Next string `json:"next,omitempty"`
}

// Incident is the public JSON of a record (ARCHITECTURE.md, public interface).
type Incident struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Status     string   `json:"status"`
	Kind       string   `json:"kind"`
	Severity   string   `json:"severity"`
	Service    string   `json:"service"`
	Commander  string   `json:"commander"`
	Responders []string `json:"responders"`
	// Roles are the incident roles people hold or held, as PagerDuty
	// assigned them; a role unassigned since has no person.
	Roles          []Role     `json:"roles"`
	OpenedAt       time.Time  `json:"opened_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	Links          Links      `json:"links"`
	Pages          []Page     `json:"pages"`
	// Timeline is present on a single incident, absent from lists.
	Timeline  []Entry    `json:"timeline,omitempty"`
	Changes   []Change   `json:"changes"`
	FollowUps []FollowUp `json:"follow_ups"`
	// FollowUpCounts counts the follow-ups by status, every status present.
	FollowUpCounts map[string]int `json:"follow_up_counts"`
	// Learned are the review sections people filled in, as the review read
	// when it last closed (who_knew, surprised, …).
	Learned []string `json:"learned,omitempty"`
}

// Role is an incident role and who holds it since when.
type Role struct {
	Name   string    `json:"name"`
	Person string    `json:"person"`
	Since  time.Time `json:"since"`
}

// Links point at the incident elsewhere.
type Links struct {
	PagerDuty []string `json:"pagerduty"`
	ReviewDoc string   `json:"review_doc"`
	// Archive is the closed review's file in the incident database, a
	// path in the review repo.
	Archive string `json:"archive,omitempty"`
}

// Page is one PagerDuty incident of the record.
type Page struct {
	ID       string `json:"id"`
	Number   int    `json:"number,omitempty"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Urgency  string `json:"urgency,omitempty"`
	Priority string `json:"priority,omitempty"`
	Severity string `json:"severity"`
	URL      string `json:"url,omitempty"`
}

// Entry is one timeline entry.
type Entry struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"`
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
	URL     string    `json:"url"`
}

// Change is a deploy, merge, release, push or deploy-workflow run attached
// to the record. Relation is "recent" for a change before the record
// opened, "during" for one while it was open.
type Change struct {
	At          time.Time `json:"at"`
	Relation    string    `json:"relation"`
	Kind        string    `json:"kind"`
	Service     string    `json:"service"`
	Repo        string    `json:"repo"`
	Ref         string    `json:"ref,omitempty"`
	SHA         string    `json:"sha,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Workflow    string    `json:"workflow,omitempty"`
	State       string    `json:"state,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	Title       string    `json:"title,omitempty"`
	PRNumber    int       `json:"pr_number,omitempty"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url,omitempty"`
}

// FromChange renders a change as public JSON, relative to a record's opening.
func FromChange(c incident.Change, openedAt time.Time) Change {
	relation := "during"
	if c.At.Before(openedAt) {
		relation = "recent"
	}
	return Change{
		At: c.At, Relation: relation, Kind: c.Kind, Service: c.Service, Repo: c.Repo, Ref: c.Ref, SHA: c.SHA,
		Environment: c.Environment, Workflow: c.Workflow, State: c.State, Actor: c.Actor, Title: c.Title,
		PRNumber: c.PRNumber, Summary: c.Summary(), URL: c.URL,
	}
}

// FollowUp is a follow-up of the review and its Jira ticket. Status is
// open, in_progress, done or wont_do; JiraKey is empty while it is filed.
type FollowUp struct {
	Incident    string    `json:"incident"`
	Title       string    `json:"title"`
	JiraKey     string    `json:"jira_key"`
	Status      string    `json:"status"`
	JiraStatus  string    `json:"jira_status,omitempty"`
	URL         string    `json:"url,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	Assignee    string    `json:"assignee,omitempty"`
	RequestedBy string    `json:"requested_by,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// FromFollowUp renders a follow-up as public JSON.
func FromFollowUp(f *incident.FollowUp) FollowUp {
	return FollowUp{
		Incident: incident.FormatRef(f.IncidentID), Title: f.Title, JiraKey: f.JiraKey, Status: string(f.Status),
		JiraStatus: f.JiraStatus, URL: f.JiraURL, Owner: f.Owner, Assignee: f.Assignee,
		RequestedBy: f.RequestedBy, RequestedAt: f.RequestedAt,
	}
}

// FromRecord renders a record as public JSON.
func FromRecord(r *incident.Record) Incident {
	out := Incident{
		ID:             r.Ref(),
		Title:          r.Title,
		Status:         string(r.Status),
		Kind:           string(r.Kind),
		Severity:       r.Severity,
		Service:        r.Service,
		Commander:      r.Commander,
		Responders:     append([]string{}, r.Responders...),
		Roles:          make([]Role, 0, len(r.Roles)),
		OpenedAt:       r.OpenedAt,
		AcknowledgedAt: optional(r.AcknowledgedAt),
		ResolvedAt:     optional(r.ResolvedAt),
		Links:          Links{PagerDuty: []string{}, ReviewDoc: r.ReviewDoc, Archive: r.Archived},
		Learned:        r.Learned,
		Pages:          make([]Page, 0, len(r.Pages)),
		Changes:        []Change{},
		FollowUps:      []FollowUp{},
		FollowUpCounts: map[string]int{},
	}
	for _, role := range r.Roles {
		out.Roles = append(out.Roles, Role{Name: role.Name, Person: role.Person, Since: role.Since})
	}
	for _, st := range incident.FollowUpStatuses {
		out.FollowUpCounts[string(st)] = 0
	}
	for i := range r.FollowUps {
		out.FollowUps = append(out.FollowUps, FromFollowUp(&r.FollowUps[i]))
		out.FollowUpCounts[string(r.FollowUps[i].Status)]++
	}
	for _, p := range r.Pages {
		if p.URL != "" {
			out.Links.PagerDuty = append(out.Links.PagerDuty, p.URL)
		}
		out.Pages = append(out.Pages, Page{
			ID: p.ID, Number: p.Number, Title: p.Title, Status: string(p.Status),
			Urgency: p.Urgency, Priority: p.Priority, Severity: p.Severity, URL: p.URL,
		})
	}
	for _, c := range r.Changes {
		out.Changes = append(out.Changes, FromChange(c, r.OpenedAt))
	}
	if r.Timeline != nil {
		out.Timeline = make([]Entry, 0, len(r.Timeline))
		for _, e := range r.Timeline {
			out.Timeline = append(out.Timeline, Entry{At: e.At, Source: e.Source, Kind: e.Kind, Summary: e.Summary, URL: e.URL})
		}
	}
	return out
}

func optional(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
