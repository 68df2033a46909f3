package incident

import "time"

// Source names a vendor that sends webhooks.
type Source string

// Webhook sources.
const (
	SourcePagerDuty Source = "pagerduty"
	SourceGitHub    Source = "github"
	SourceJira      Source = "jira"
	// SourceHub is the hub itself: what its jobs made on the vendors (a
	// review issue opened, a ticket filed) and what people asked of it
	// through the CLI, reported as events on the same ordered path as
	// vendor deliveries, so that only the router changes a record.
	SourceHub Source = "incidenthub"
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
	// EventPageRoleAssigned: an incident role was assigned, reassigned or
	// unassigned on the page; Role says which and to whom.
	EventPageRoleAssigned EventType = "page.role_assigned"
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

// Hub events: what the hub's jobs made on the vendors, and requests made
// through the CLI. RecordID is the record; each carries the time the thing
// happened (a vendor's own timestamp where it gives one).
const (
	// EventReviewRequested asks for a review doc at once (`incidents
	// review`): how an optional review opens, and how one overrides none.
	EventReviewRequested EventType = "review.requested"
	// EventReviewOpened: the review issue exists; IssueNumber and URL say
	// which.
	EventReviewOpened EventType = "review.opened"
	// EventReviewSummarised: the summary of the resolution at For is on
	// the review issue.
	EventReviewSummarised EventType = "review.summarised"
	// EventReviewReminded: the one reminder of an overdue review is posted.
	EventReviewReminded EventType = "review.reminded"
	// EventNoteAdded: a note is on PagerDuty incident PageID; with
	// FollowUpKey, the note links that follow-up's ticket.
	EventNoteAdded EventType = "note.added"
	// EventChangeNoted: the blameless note is on the pull request of the
	// change Target.
	EventChangeNoted EventType = "change.noted"
	// EventFollowUpFiling: the job is about to file FollowUpKey's ticket;
	// from then on the task-list item no longer settles.
	EventFollowUpFiling EventType = "followup.filing"
	// EventFollowUpCreating: the job is about to ask Jira to create
	// FollowUpKey's ticket; a later attempt looks for it before creating.
	EventFollowUpCreating EventType = "followup.creating"
	// EventFollowUpFiled: FollowUpKey's ticket exists; Ticket is it.
	EventFollowUpFiled EventType = "followup.filed"
	// EventFollowUpLinked: the ticket links back to the review issue.
	EventFollowUpLinked EventType = "followup.linked"
	// EventFollowUpReplied: the review issue confirms the filed ticket.
	EventFollowUpReplied EventType = "followup.replied"
	// EventActionFailed: a job failed for good (Target is its kind, Text
	// the job and the vendor's words).
	EventActionFailed EventType = "action.failed"
	// EventDrillStarted asks for a drill (`incidenthub drill`): Drill says
	// which. It names no record: it opens one.
	EventDrillStarted EventType = "drill.started"
	// EventDrillEnded ends the drill RecordID (`incidenthub drill end`).
	EventDrillEnded EventType = "drill.ended"
	// EventDrillStep: a step of the drill's scenario happened (Target is
	// its kind and index, deploy:3; Text what it says).
	EventDrillStep EventType = "drill.step"
	// EventReviewArchived: the closed review's final text is committed to
	// the incident database in the review repo, at Target; Learned names
	// the sections people wrote.
	EventReviewArchived EventType = "review.archived"
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
	// Role is the incident role a role assignment is about.
	Role *RoleChange
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
	// RecordID is the record a hub event is about.
	RecordID int64
	// FollowUpKey is the follow-up a hub event is about.
	FollowUpKey string
	// URL is what a hub event made: the review issue, a ticket.
	URL string
	// Target is what else a hub event is about: the change a pull-request
	// note was left for.
	Target string
	// For is the resolution a summary was posted for.
	For time.Time
	// Drill is the drill a drill.started event asks for.
	Drill *Drill
	// IncidentKey is the PagerDuty incident's de-duplication key (an
	// Events API dedup_key): a drill's pages carry the drill's.
	IncidentKey string
	// Learned are the review sections people filled in (review.archived).
	Learned []string
}
