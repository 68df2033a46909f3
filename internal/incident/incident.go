// Package incident is the hub's vocabulary: incident records, their pages and
// timelines, and the normalised events that connectors produce. It is plain
// data with no I/O, shared by the router, the store and the connectors.
package incident

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is where a record stands in its lifecycle.
type Status string

// Record statuses, in lifecycle order.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
	StatusReviewing    Status = "reviewing"
	StatusClosed       Status = "closed"
)

// Statuses are every record status, in lifecycle order.
var Statuses = []Status{StatusOpen, StatusAcknowledged, StatusResolved, StatusReviewing, StatusClosed}

// ParseStatus reads a status filter: "" (any), or one of Statuses. A
// mistyped status is an error, not an empty list.
func ParseStatus(s string) (Status, error) {
	if s == "" || slices.Contains(Statuses, Status(s)) {
		return Status(s), nil
	}
	return "", fmt.Errorf("unknown status %q (want one of open, acknowledged, resolved, reviewing, closed)", s)
}

// Active reports whether the record still needs responders: open or acknowledged.
func (s Status) Active() bool { return s == StatusOpen || s == StatusAcknowledged }

// Kind tells real incidents from announcements and drills.
type Kind string

// Record kinds.
const (
	KindIncident  Kind = "incident"
	KindAwareness Kind = "awareness"
	KindDrill     Kind = "drill"
)

// Kinds are every record kind.
var Kinds = []Kind{KindIncident, KindAwareness, KindDrill}

// ParseKind reads a kind filter: "" (any), or one of Kinds.
func ParseKind(s string) (Kind, error) {
	if s == "" || slices.Contains(Kinds, Kind(s)) {
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown kind %q (want one of incident, awareness, drill)", s)
}

// UnmappedService is the service of a record opened by a page from a
// PagerDuty service that no configured service lists.
const UnmappedService = "unmapped"

// Record is one incident: the pages it groups, who responded, and what
// happened when. The router derives every field from events; the store keeps it.
type Record struct {
	// ID is the hub's number; zero until the store first saves the record.
	ID       int64
	Title    string
	Status   Status
	Kind     Kind
	Severity string
	// SeveritySetBy names the person who set the severity by hand; while it
	// is set, pages no longer move the severity.
	SeveritySetBy string
	Service       string
	// CorrelationKey groups pages into one record: the service name, or for
	// unmapped services the PagerDuty service id, so that two unknown
	// services never merge.
	CorrelationKey string
	// Commander leads the response: whoever holds PagerDuty's commander
	// role, else the first to acknowledge.
	Commander string
	// AckedBy acknowledged first, at CommanderAt, so that an earlier
	// acknowledgement delivered late still wins.
	AckedBy     string
	CommanderAt time.Time
	Responders  []string
	// Roles are the incident roles people hold, as PagerDuty assigned
	// them, in the order they were first assigned.
	Roles          []Role
	OpenedAt       time.Time
	AcknowledgedAt time.Time
	ResolvedAt     time.Time
	// Pages are shared between copies of the record and never changed in
	// place: a storm's record holds thousands, and each of its deliveries
	// changes one. EditPage gives a page of this record's own to change.
	Pages []*Page
	// Cause is the key of the change an awareness record announces.
	Cause string
	// ReviewDoc is the review issue's URL and number once it exists.
	ReviewDoc       string
	ReviewDocNumber int
	// SummaryFor is the resolution the summary comment was posted for.
	SummaryFor time.Time
	// ReviewDue is when the review is due, set when its doc opens.
	ReviewDue time.Time
	// ReviewOpensAt is when the review doc is to open, once the record is
	// resolved and its review is required or was asked for; zero when no
	// doc is to open. The router sets it; the job follows it.
	ReviewOpensAt time.Time
	// ReviewRequested asks for a review a severity leaves optional.
	ReviewRequested bool
	// Drill is a drill record's key (Drill.Key); empty for every other kind.
	Drill string
	// DrillPaged: the drill pages through PagerDuty, so its end resolves
	// its page there, whether or not the page's webhook has come yet.
	DrillPaged bool
	// Archived is where the closed review's final text is in the review
	// repo (reviews/2026/INC-12-….md), kept so that a record closed again
	// after a new title updates the same file.
	Archived string
	// Learned are the review sections people filled in, as the review read
	// when it closed last: signals of learning (report).
	Learned []string
	// Changes are the changes attached to the record, filled when it is
	// read for display.
	Changes []Change
	// Timeline is filled when a record is read for display; the router
	// returns new entries separately.
	Timeline []TimelineEntry
	// FollowUps are filled when a record is read for display, oldest first.
	FollowUps []FollowUp
}

// Ref is the public identifier, INC-<n>.
func (r *Record) Ref() string { return FormatRef(r.ID) }

// Page returns a copy of the record's page with the given PagerDuty
// incident id.
func (r *Record) Page(id string) (Page, bool) {
	if i := r.pageIndex(id); i >= 0 {
		return *r.Pages[i], true
	}
	return Page{}, false
}

// EditPage gives the record a copy of its page with the given PagerDuty
// incident id, to change: other copies of the record, which share the
// page, do not see the change. Take it once per change, since a second
// call copies again. The copy shares the page's Assignees, which are
// replaced whole, never changed in place.
func (r *Record) EditPage(id string) (*Page, bool) {
	i := r.pageIndex(id)
	if i < 0 {
		return nil, false
	}
	p := *r.Pages[i]
	r.Pages[i] = &p
	return &p, true
}

func (r *Record) pageIndex(id string) int {
	return slices.IndexFunc(r.Pages, func(p *Page) bool { return p.ID == id })
}

// Clone returns a copy that shares nothing it may change with r, so that a
// decision never aliases its input. Pages are shared (see Pages).
func (r Record) Clone() Record {
	c := r
	c.Responders = append([]string(nil), r.Responders...)
	c.Roles = append([]Role(nil), r.Roles...)
	c.Pages = append([]*Page(nil), r.Pages...)
	c.Timeline = append([]TimelineEntry(nil), r.Timeline...)
	c.Changes = append([]Change(nil), r.Changes...)
	c.FollowUps = append([]FollowUp(nil), r.FollowUps...)
	c.Learned = append([]string(nil), r.Learned...)
	return c
}

// FormatRef renders a record number as INC-<n>.
func FormatRef(id int64) string { return "INC-" + strconv.FormatInt(id, 10) }

// ParseRef accepts INC-<n> (any case) or a bare number.
func ParseRef(s string) (int64, error) {
	num := s
	if len(s) > 4 && strings.EqualFold(s[:4], "INC-") {
		num = s[4:]
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("incident id %q: want INC-<number>", s)
	}
	return id, nil
}

// PageStatus is the PagerDuty incident status.
type PageStatus string

// PagerDuty incident statuses.
const (
	PageTriggered    PageStatus = "triggered"
	PageAcknowledged PageStatus = "acknowledged"
	PageResolved     PageStatus = "resolved"
)

// Page is one PagerDuty incident as the hub last saw it. Records share
// pages: a page in a record is never changed in place (Record.EditPage).
type Page struct {
	ID          string     `json:"id"`
	Number      int        `json:"number,omitempty"`
	Title       string     `json:"title"`
	URL         string     `json:"url,omitempty"`
	ServiceID   string     `json:"service_id"`
	ServiceName string     `json:"service_name,omitempty"`
	Status      PageStatus `json:"status"`
	Urgency     string     `json:"urgency,omitempty"`
	Priority    string     `json:"priority,omitempty"`
	Severity    string     `json:"severity"`
	// Assignees is replaced whole, never changed in place, so that copies
	// of a page may share it: a storm's record is copied for each of its
	// deliveries, and copying every page's assignees was most of that.
	Assignees []string `json:"assignees,omitempty"`
	// TriggeredAt is when the page began: its created_at, or the earliest
	// event seen for it when the snapshot does not say.
	TriggeredAt time.Time `json:"triggered_at"`
	ResolvedAt  time.Time `json:"resolved_at,omitzero"`
	// SnapshotAt is when the newest snapshot applied happened; older
	// snapshots delivered late do not overwrite it.
	SnapshotAt time.Time `json:"snapshot_at"`
}

// TimelineEntry is one thing that happened, in the order it happened.
type TimelineEntry struct {
	At      time.Time
	Source  string
	Kind    string
	Summary string
	URL     string
	// Key is unique across all timelines: the same vendor event never
	// appears twice however often it is delivered.
	Key string
}

// Timeline entry kinds.
const (
	EntryPageTriggered      = "page.triggered"
	EntryPageAcknowledged   = "page.acknowledged"
	EntryPageUnacknowledged = "page.unacknowledged"
	EntryPageResolved       = "page.resolved"
	EntryPageReopened       = "page.reopened"
	EntryPageEscalated      = "page.escalated"
	EntryPageReassigned     = "page.reassigned"
	EntryPageResponderAdded = "page.responder_added"
	EntryPagePriority       = "page.priority_changed"
	EntryNote               = "note"
	EntryStatusUpdate       = "status_update"
	EntrySeverityChanged    = "severity.changed"
	EntryStatusChanged      = "status.changed"
	EntryServiceUnmapped    = "service.unmapped"
	EntryChange             = "change"
	EntryAwarenessOpened    = "awareness.opened"
	EntryKindChanged        = "kind.changed"
	EntryReviewOpened       = "review.opened"
	EntryReviewRequested    = "review.requested"
	EntryReviewClosed       = "review.closed"
	EntryReviewReopened     = "review.reopened"
	EntryFollowUpRequested  = "followup.requested"
	EntryFollowUpFiled      = "followup.filed"
	EntryFollowUpUpdated    = "followup.updated"
	EntryFollowUpComment    = "followup.comment"
	EntryFollowUpWithdrawn  = "followup.withdrawn"
	EntryActionFailed       = "action.failed"
	EntryRoleAssigned       = "role.assigned"
	EntryRoleUnassigned     = "role.unassigned"
	EntryDrillStarted       = "drill.started"
	EntryDrillEnded         = "drill.ended"
	EntryDrillStep          = "drill.step"
	EntryReviewArchived     = "review.archived"
)

// Action kinds: side effects on vendors, run as durable jobs.
const (
	// ActionReviewDoc creates the review doc, or brings its hub sections
	// up to date.
	ActionReviewDoc = "review_doc"
	// ActionPageNote adds a note linking the review doc to a page.
	ActionPageNote = "page_note"
	// ActionTriageNote adds to a page, once, what a responder checks first:
	// the service's recent changes, an announced risky change, the
	// playbook, and the record; Target is the page id.
	ActionTriageNote = "triage_note"
	// ActionLiveChangeNote tells a page, once, of a change that landed on
	// its service while its record is open (a rollback, a fix deploy);
	// Target is the page id, Change the change's key.
	ActionLiveChangeNote = "live_change_note"
	// ActionRolesNote tells a page, once, which of its severity's expected
	// roles are still open after the grace time; Target is the page id.
	ActionRolesNote = "roles_note"
	// ActionChangeEvent sends a change to PagerDuty's Events API so that it
	// shows among the service's recent changes; about no record, Change is
	// the change's key.
	ActionChangeEvent = "change_event"
	// ActionReviewReminder reminds, once, of an overdue review.
	ActionReviewReminder = "review_reminder"
	// ActionChangeNote comments, blamelessly, on a pull request among the
	// incident's changes.
	ActionChangeNote = "change_note"
	// ActionFileFollowUp files a follow-up's Jira ticket; Target is the
	// follow-up's key.
	ActionFileFollowUp = "file_followup"
	// ActionFollowUpReply confirms a filed follow-up on the review issue;
	// Target is the follow-up's key.
	ActionFollowUpReply = "followup_reply"
	// ActionDrillPage pages for a drill through PagerDuty's Events API;
	// Target is the event action: trigger, or resolve when it ends.
	ActionDrillPage = "drill_page"
	// ActionDrillStep plays one step of a drill's scenario at its time:
	// Target is its index, Text what it says.
	ActionDrillStep = "drill_step"
	// ActionArchiveReview commits a closed review's final text to the
	// incident database in the review repo, and keeps its index current.
	ActionArchiveReview = "archive_review"
	// ActionPostReport opens or updates a month's report issue; the CLI
	// asks for it (`incidenthub report --post`), never a decision.
	ActionPostReport = "post_report"
)

// Label is the label that ties Jira tickets to the record: inc-12. People
// who file a ticket by hand with it get it adopted as a follow-up.
func (r *Record) Label() string { return "inc-" + strconv.FormatInt(r.ID, 10) }

// ParseLabel reads a record's number from its Jira label (inc-12). Jira
// labels are case-sensitive, and so is the match: INC-12 is someone else's.
func ParseLabel(l string) (int64, bool) {
	num, ok := strings.CutPrefix(l, "inc-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == num
}

// Action is a side effect a decision asks for.
type Action struct {
	Kind string
	// RunAt is when to run it; zero means at once.
	RunAt time.Time
	// Target is what the action is about beyond its record (a page id).
	Target string
	// FollowUp is the key of the follow-up a page note announces.
	FollowUp string
	// Change is the key of the change a live-change note announces.
	Change string
	// Text is what a drill step says, and StepKind its kind.
	Text, StepKind string
}

// FiledEntry is the timeline entry of a follow-up's new ticket, the same
// whether the job that filed it or the ticket's webhook records it first.
func FiledEntry(f *FollowUp, at time.Time, source string) TimelineEntry {
	return TimelineEntry{At: at, Source: source, Kind: EntryFollowUpFiled, URL: f.JiraURL,
		Key: "followup.filed:" + f.Key, Summary: fmt.Sprintf("Follow-up filed as %s: %s", f.JiraKey, f.Title)}
}

// FiledActions are what a follow-up's new ticket calls for: the review
// doc lists it, a reply confirms it where it was asked for, and each page
// gets a note that links it.
func FiledActions(rec *Record, f *FollowUp) []Action {
	acts := []Action{{Kind: ActionReviewDoc}}
	if f.Origin != "" {
		acts = append(acts, Action{Kind: ActionFollowUpReply, Target: f.Key})
	}
	for _, p := range rec.Pages {
		acts = append(acts, Action{Kind: ActionPageNote, Target: p.ID, FollowUp: f.Key})
	}
	return acts
}
