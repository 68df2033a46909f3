package incident

import "time"

// Source names a vendor that sends webhooks.
type Source string

// Webhook sources.
const (
	SourcePagerDuty Source = "pagerduty"
	SourceGitHub    Source = "github"
	SourceJira      Source = "jira"
)

// EventType is a normalised event, independent of the vendor's vocabulary.
type EventType string

// Page events, from PagerDuty incident webhooks.
const (
	EventPageTriggered      EventType = "page.triggered"
	EventPageAcknowledged   EventType = "page.acknowledged"
	EventPageUnacknowledged EventType = "page.unacknowledged"
	EventPageResolved       EventType = "page.resolved"
	EventPageReopened       EventType = "page.reopened"
	EventPageReassigned     EventType = "page.reassigned"
	EventPageEscalated      EventType = "page.escalated"
	EventPagePriority       EventType = "page.priority_updated"
	EventPageNote           EventType = "page.note"
	EventPageResponderAdded EventType = "page.responder_added"
	EventPageStatusUpdate   EventType = "page.status_update"
)

// EventChange is a deploy, merge, release, push or deploy-workflow run.
const EventChange EventType = "change"

// Review events, from the review issue on GitHub. Subject is the record
// (INC-n).
const (
	EventReviewClosed   EventType = "review.closed"
	EventReviewReopened EventType = "review.reopened"
	// EventFollowUpRequested asks for follow-ups in a review issue: a
	// /followup comment or new task-list items; FollowUps says which.
	EventFollowUpRequested EventType = "followup.requested"
	// EventReviewEdited is an edit of the review issue's body; FollowUps
	// are all the unchecked task-list items under its Follow-ups heading.
	EventReviewEdited EventType = "review.edited"
)

// Follow-up events, from Jira. Ticket is the ticket as the event saw it.
const (
	// EventFollowUpUpdated: a ticket was created, updated or deleted.
	EventFollowUpUpdated EventType = "followup.updated"
	// EventFollowUpComment: someone commented on a ticket; Text is the
	// comment.
	EventFollowUpComment EventType = "followup.comment"
)

// Event is what a connector makes of one vendor event: the facts the router
// needs and the time the thing happened (never the time it arrived).
type Event struct {
	Source Source
	// ID is the vendor's event id; with Source it identifies the event
	// across redeliveries that carry a new delivery id.
	ID         string
	Type       EventType
	OccurredAt time.Time
	// Actor is who did it, as the vendor names them; empty for automation.
	Actor string
	// PageID is the PagerDuty incident the event is about.
	PageID  string
	PageURL string
	// Snapshot is the page as the event saw it. Events about notes,
	// responders and status updates carry only a reference: nil.
	Snapshot *Page
	// Text is a note's content, a status update's message or a responder
	// request; untrusted.
	Text string
	// Subject is a person the event is about, such as an added responder.
	Subject string
	// IssueRepo and IssueNumber name the GitHub issue a review event
	// comes from.
	IssueRepo   string
	IssueNumber int
	// Change is what a change event reports, before the router maps its
	// repository to a service; for a deployment status, only the state,
	// StateAt and URL are new.
	Change *Change
	// FollowUps are the follow-ups a review issue asks for.
	FollowUps []FollowUpRequest
	// Ticket is the Jira ticket a follow-up event is about.
	Ticket *Ticket
}
