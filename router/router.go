// Package router decides what an event means for the incident records.
//
// Decide is a pure function of (state, event, rules, now): no I/O, no clock
// reads, no randomness. The pipeline loads the state that QueryFor names,
// calls Decide, and writes the Decision; everything that makes correlation
// correct (storms, out-of-order and repeated deliveries) is decided here and
// table-tested with real vendor payloads.
package router

import (
	"slices"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Rules is the configuration the router decides by.
type Rules struct {
	// Severities are ordered most severe first; the order is the ranking.
	Severities []Severity
	Services   []Service
	// MergeWindow: pages on one service within it form one record.
	MergeWindow time.Duration
	// ChangeLookback: changes this long before a record opened are
	// attached to it as recent changes.
	ChangeLookback time.Duration
	// AwarenessLabels mark risky changes that announce themselves.
	AwarenessLabels []string
	// AwarenessAutoResolve resolves an awareness record nothing paged on.
	AwarenessAutoResolve time.Duration
	// ReviewOpenAfter is the decompression time before a review doc
	// opens, unless the severity sets its own.
	ReviewOpenAfter time.Duration
	// ReviewDueWithin is how long after its doc opens a review is due.
	ReviewDueWithin time.Duration
	// ReviewRepo is where review docs live (owner/name).
	ReviewRepo string
	// CommentOnChanges leaves a blameless note on the pull requests among
	// an incident's changes when its review doc opens.
	CommentOnChanges bool
	// JiraProjects are the services' Jira projects: tickets elsewhere are
	// not adopted as follow-ups.
	JiraProjects []string
	// TriageNotes adds a triage note to every new page.
	TriageNotes bool
	// LiveChangeNotes tells an open incident's pages of the changes that
	// land on its service meanwhile.
	LiveChangeNotes bool
	// RolesNotes tells an acknowledged incident's pages which of its
	// severity's expected roles are still open after the grace time.
	RolesNotes bool
	// TaskSettle is how long a task-list item of the review doc may still
	// be retyped or removed before its ticket is filed.
	TaskSettle time.Duration
}

// Severity maps PagerDuty priorities and urgency to a severity level.
type Severity struct {
	Name       string
	Priorities []string
	// Urgency matches pages whose priority no severity lists.
	Urgency string
	// Review is required, optional or none.
	Review string
	// ReviewOpenAfter overrides Rules.ReviewOpenAfter when set.
	ReviewOpenAfter time.Duration
	// RolesExpected are the roles an acknowledged record of this severity
	// should have after RolesGrace.
	RolesExpected []string
	RolesGrace    time.Duration
}

// Service maps PagerDuty services and GitHub repositories to a
// configured service.
type Service struct {
	Name                string
	PagerDutyServiceIDs []string
	GitHubRepos         []string
	DeployEnvironments  []string
	DeployWorkflows     []string
	// ChangeEvents: the service's changes go to PagerDuty's recent
	// changes (it has an Events API routing key).
	ChangeEvents bool
}

// Query names the state Decide needs for an event.
type Query struct {
	// PageID: load the record that holds this PagerDuty incident.
	PageID string
	// CorrelationKey: load the records with this key a new page may join:
	// not closed, and opened between OpenedFrom and OpenedTo (the merge
	// window around the page's start), or active awareness records opened
	// before OpenedTo. Empty when the event cannot open a record.
	CorrelationKey       string
	OpenedFrom, OpenedTo time.Time
	// ChangeKey: load the stored change with this key.
	ChangeKey string
	// RecordID: load this record.
	RecordID int64
	// TicketID: load the follow-up with this Jira issue id, and its record.
	TicketID string
	// FollowUps: load the follow-ups of the record loaded.
	FollowUps bool
	// FollowUpKey: load the follow-up with this key, and its record.
	FollowUpKey string
	// Changes: load the changes attached to the record loaded.
	Changes bool
}

// State is what the store knows that the event may touch.
type State struct {
	// Owner is the record that already holds the event's page, if any.
	Owner *incident.Record
	// Active are the open and acknowledged records the query named:
	// candidates for a page storm.
	Active []incident.Record
	// Change is a change event merged with what the store knew of it
	// (MergeChange); Records are the records ChangeQuery named, and
	// Holding those the change is attached to already.
	Change  *incident.Change
	Records []incident.Record
	Holding []incident.Record
	// Known is the change as the store knew it before this event (nil
	// for a new one).
	Known *incident.Change
	// FollowUps are the Owner's follow-ups, when the query asked for them;
	// FollowUp is the one that follows the event's ticket, or the one a
	// hub event names, if any. Owner.Changes are filled when the query
	// asked for them.
	FollowUps []incident.FollowUp
	FollowUp  *incident.FollowUp
}

// Decision is what to write.
type Decision struct {
	// Record is the record to save (ID zero: a new record); nil when the
	// event changes nothing.
	Record *incident.Record
	// Opened is true when Record is new.
	Opened bool
	// Entries are the timeline entries the event adds.
	Entries []incident.TimelineEntry
	// Defer is set when the event refers to a page the hub has not seen:
	// the delivery waits until that page is known.
	Defer string
	// Ignore is set when the event is valid but means nothing to the hub.
	Ignore string
	// Notices are things an operator should read in the log.
	Notices []string
	// Change is the change to store (a change event).
	Change *incident.Change
	// Attach puts changes on records' timelines; a zero RecordID means
	// Record, once saved.
	Attach []Attachment
	// Detach takes changes off Record that no longer belong on it.
	Detach []Attachment
	// Actions are side effects on Record, run as durable jobs.
	Actions []incident.Action
	// ChangeActions are side effects about the decision's Change, on no
	// record (its change event to PagerDuty).
	ChangeActions []incident.Action
	// FollowUps are follow-ups of Record to save: new ones (ID zero) and
	// changed ones.
	FollowUps []incident.FollowUp
	// Withdraw are the keys of follow-ups to forget: task-list items people
	// retyped or removed before the hub began to file them.
	Withdraw []string
}

// QueryFor says which state Decide needs for ev.
func QueryFor(ev incident.Event, r Rules) Query {
	if ev.Source == incident.SourceHub {
		// The hub's own events name their record and follow-up.
		return Query{RecordID: ev.RecordID, FollowUpKey: ev.FollowUpKey, Changes: ev.Type == incident.EventReviewOpened}
	}
	q := Query{PageID: ev.PageID}
	if ev.Change != nil {
		q.ChangeKey = ev.Change.Key
	}
	if id, err := incident.ParseRef(ev.Subject); err == nil && ev.Source == incident.SourceGitHub && ev.Change == nil {
		q.RecordID = id
		q.FollowUps = ev.Type == incident.EventFollowUpRequested || ev.Type == incident.EventReviewEdited
	}
	if t := ev.Ticket; t != nil {
		q.TicketID = t.ID
		q.FollowUps = true
		// A ticket the hub does not follow may carry an incident's label:
		// filed by hand, to be adopted; or filed by the hub and not yet
		// recorded.
		for _, l := range t.Labels {
			if id, ok := incident.ParseLabel(l); ok {
				q.RecordID = id
				break
			}
		}
	}
	if id, _, ok := incident.ParseDrillDedupKey(ev.IncidentKey); ok && ev.Source == incident.SourcePagerDuty {
		// A drill's page: it joins the drill that paged, never a storm.
		q.RecordID = id
	}
	if ev.Snapshot != nil {
		_, q.CorrelationKey, _ = r.service(ev.Snapshot.ServiceID)
		start := pageStart(ev)
		q.OpenedFrom, q.OpenedTo = start.Add(-r.MergeWindow), start.Add(r.MergeWindow)
	}
	return q
}

// Decide returns what ev means given the state. now is unused by page
// events, whose windows compare the times things happened, so that a
// replayed or late delivery correlates exactly as a live one; it only
// tells whether a change is still news to the people paged (live-change
// notes), which no record's state depends on.
func Decide(s State, ev incident.Event, r Rules, now time.Time) Decision {
	switch ev.Source {
	case incident.SourcePagerDuty:
		return decidePage(s, ev, r)
	case incident.SourceGitHub:
		switch {
		case ev.Change != nil:
			return decideChange(s, ev, r, now)
		case ev.Type == incident.EventFollowUpRequested, ev.Type == incident.EventReviewEdited:
			return decideFollowUpRequest(s, ev, r)
		}
		return decideReview(s, ev, r)
	case incident.SourceJira:
		return decideTicket(s, ev, r)
	case incident.SourceHub:
		return decideHub(s, ev, r)
	default:
		return Decision{Ignore: "no rules for source " + string(ev.Source)}
	}
}

// service returns the configured service of a PagerDuty service id and the
// key that correlates its pages.
func (r Rules) service(pagerDutyID string) (name, key string, mapped bool) {
	for _, s := range r.Services {
		if slices.Contains(s.PagerDutyServiceIDs, pagerDutyID) {
			return s.Name, s.Name, true
		}
	}
	return incident.UnmappedService, incident.UnmappedService + ":" + pagerDutyID, false
}

// severity maps a page to a severity: its priority first, then its
// urgency, then the least severe level, so that every page has one.
func (r Rules) severity(p *incident.Page) string {
	if len(r.Severities) == 0 {
		return ""
	}
	if p.Priority != "" {
		for _, s := range r.Severities {
			if slices.Contains(s.Priorities, p.Priority) {
				return s.Name
			}
		}
	}
	if p.Urgency != "" {
		for _, s := range r.Severities {
			if s.Urgency == p.Urgency {
				return s.Name
			}
		}
	}
	return r.Severities[len(r.Severities)-1].Name
}

// severityRules returns the rules of the named severity.
func (r Rules) severityRules(name string) (Severity, bool) {
	for _, s := range r.Severities {
		if s.Name == name {
			return s, true
		}
	}
	return Severity{}, false
}

// rank orders severities, most severe lowest; unknown names rank last.
func (r Rules) rank(name string) int {
	for i, s := range r.Severities {
		if s.Name == name {
			return i
		}
	}
	return len(r.Severities)
}
