package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// FollowUpStatus is where a follow-up's work stands, as its Jira ticket says.
type FollowUpStatus string

// Follow-up statuses.
const (
	FollowUpOpen       FollowUpStatus = "open"
	FollowUpInProgress FollowUpStatus = "in_progress"
	FollowUpDone       FollowUpStatus = "done"
	FollowUpWontDo     FollowUpStatus = "wont_do"
)

// FollowUpStatuses lists the statuses in the order people read them.
var FollowUpStatuses = []FollowUpStatus{FollowUpOpen, FollowUpInProgress, FollowUpDone, FollowUpWontDo}

// Finished reports whether no more work is expected: done or won't do.
func (s FollowUpStatus) Finished() bool { return s == FollowUpDone || s == FollowUpWontDo }

// FollowUp is work a review asked for, filed as a Jira ticket. It starts
// as a request (a /followup comment, a task-list item in the review doc,
// or a ticket filed by hand with the incident's label) and follows its
// ticket's status from then on.
type FollowUp struct {
	// ID is the hub's number; zero until first saved.
	ID         int64 `json:"-"`
	IncidentID int64 `json:"-"`
	// Key identifies the request across deliveries: the comment and line
	// it came from, the task-list item's text, or the adopted ticket.
	Key   string `json:"-"`
	Title string `json:"title"`
	// Owner is the GitHub login the request named (owner:@login);
	// Priority and IssueType are Jira names (priority:High, type:Bug).
	Owner       string    `json:"owner,omitempty"`
	Priority    string    `json:"priority,omitempty"`
	IssueType   string    `json:"issue_type,omitempty"`
	RequestedBy string    `json:"requested_by,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	// Origin is the URL of what asked for it (the comment).
	Origin string         `json:"origin,omitempty"`
	Status FollowUpStatus `json:"-"`
	// The ticket, once filed or adopted.
	JiraID  string `json:"-"`
	JiraKey string `json:"jira_key,omitempty"`
	JiraURL string `json:"jira_url,omitempty"`
	// JiraStatus is the status's name in Jira (To Do, In Review, …).
	JiraStatus string `json:"jira_status,omitempty"`
	Assignee   string `json:"assignee,omitempty"`
	// StatusAt is when the applied status happened, so that an older event
	// delivered late does not undo a newer one.
	StatusAt time.Time `json:"status_at,omitzero"`
	// TicketLabel is the label unique to this follow-up's ticket, known
	// before the hub first asks Jira to create it: after an ambiguous
	// failure the ticket is looked for by it before creating another.
	// FilingSince is when the hub began to file it.
	TicketLabel string    `json:"ticket_label,omitempty"`
	FilingSince time.Time `json:"filing_since,omitzero"`
	// Linked is set once the ticket links back to the review issue.
	Linked bool `json:"linked,omitempty"`
}

// TicketLabelFor is the label unique to a follow-up's ticket. It is
// derived from the follow-up, not drawn at random, so that the router
// decides it without a random source and every attempt to file the
// ticket looks for the same label. The time it was asked for is part of
// it: a rebuilt database numbers its incidents again, and its INC-3's
// "Add an alert" must never match the old INC-3's ticket.
func TicketLabelFor(f *FollowUp) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(f.IncidentID, 10) + "\x00" + f.Key + "\x00" +
		strconv.FormatInt(f.RequestedAt.UnixNano(), 10)))
	return "incidenthub-" + hex.EncodeToString(sum[:8])
}

// Filed reports whether the follow-up has its ticket.
func (f *FollowUp) Filed() bool { return f.JiraKey != "" }

// TaskKeyPrefix starts the key of a follow-up asked for by a task-list
// item of the review doc.
const TaskKeyPrefix = "github:task:"

// Settling reports a follow-up from a task-list item whose ticket the hub
// has not begun to file: people may still retype or remove the item, and
// it stays theirs, in place, until then.
func (f *FollowUp) Settling() bool {
	return strings.HasPrefix(f.Key, TaskKeyPrefix) && !f.Filed() && f.FilingSince.IsZero()
}

// MaxTitle keeps a follow-up's title within Jira's 255-character summary.
const MaxTitle = 200

// NormalTitle is a title as people retype it, case and spacing aside: two
// requests with one normal title are one follow-up.
func NormalTitle(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// ClipTitle shortens a follow-up title to MaxTitle runes.
func ClipTitle(s string) string {
	if r := []rune(s); len(r) > MaxTitle {
		return string(r[:MaxTitle-1]) + "…"
	}
	return s
}

// FollowUpRequest is a follow-up asked for in a review issue.
type FollowUpRequest struct {
	Key       string
	Title     string
	Owner     string
	Priority  string
	IssueType string
	Origin    string
}

// Ticket is a Jira issue as a webhook shows it.
type Ticket struct {
	ID, Key, URL string
	Project      string
	Summary      string
	Labels       []string
	Status       string
	// StatusCategory is Jira's category key: new, indeterminate or done.
	StatusCategory string
	Resolution     string
	Assignee       string
	Deleted        bool
}

// wontDoResolutions are Jira's stock resolutions that close a ticket
// without the work being done.
var wontDoResolutions = []string{"won't do", "won't fix", "wont do", "wont fix", "declined", "duplicate",
	"cannot reproduce", "incomplete", "obsolete", "rejected"}

// FollowUpStatusOf maps a ticket's state to a follow-up status: by the
// status category, which every workflow has, and by the resolution to tell
// work done from work dropped.
func FollowUpStatusOf(t *Ticket) FollowUpStatus {
	if t.Deleted {
		return FollowUpWontDo
	}
	switch t.StatusCategory {
	case "done":
		if containsFold(wontDoResolutions, t.Resolution) || containsFold(wontDoResolutions, t.Status) {
			return FollowUpWontDo
		}
		return FollowUpDone
	case "indeterminate":
		return FollowUpInProgress
	default:
		return FollowUpOpen
	}
}

func containsFold(list []string, s string) bool {
	s = strings.ToLower(strings.ReplaceAll(s, "’", "'"))
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
