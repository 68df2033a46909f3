package github

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

// FollowUpCommand starts a comment line that asks for a follow-up.
const FollowUpCommand = "/followup"

// maxPerComment bounds the tickets one comment can file.
const maxPerComment = 20

// trusted are the author associations whose /followup lines count.
var trusted = []string{"OWNER", "MEMBER", "COLLABORATOR"}

var (
	ownerOption = regexp.MustCompile(`^owner:@?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$`)
	// Jira names of priorities and issue types: one word, as people type
	// them in a comment (priority:High, type:Bug).
	nameOption = regexp.MustCompile(`^(priority|type):([A-Za-z][A-Za-z0-9_-]{0,40})$`)
)

// ParseFollowUp reads one "/followup <title> [owner:@login]
// [priority:High] [type:Bug]" line. Options may come anywhere; words that
// are not options make the title. ok is false for a line that is not a
// command, or one without a title.
func ParseFollowUp(line string) (req incident.FollowUpRequest, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(line), FollowUpCommand)
	if !found || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return req, false
	}
	var title []string
	for _, word := range strings.Fields(rest) {
		if m := ownerOption.FindStringSubmatch(word); m != nil {
			req.Owner = m[1]
		} else if m := nameOption.FindStringSubmatch(word); m != nil && m[1] == "priority" {
			req.Priority = m[2]
		} else if m != nil {
			req.IssueType = m[2]
		} else {
			title = append(title, word)
		}
	}
	req.Title = incident.ClipTitle(strings.Join(title, " "))
	return req, req.Title != ""
}

// reviewSubject returns the incident whose review doc the issue is, from
// the label the hub puts on it.
func reviewSubject(issue *gh.Issue) string {
	for _, l := range issue.Labels {
		if m := reviewLabel.FindStringSubmatch(l.GetName()); m != nil {
			return m[1]
		}
	}
	return ""
}

// followUpComment reads the /followup lines of a new comment on a review
// issue; each line is one follow-up.
func followUpComment(ev incident.Event, e *gh.IssueCommentEvent) ([]incident.Event, error) {
	if e.GetAction() != "created" {
		return nil, delivery.Ignored("issue comment %s: the hub acts on new comments", e.GetAction())
	}
	if e.GetIssue().IsPullRequest() {
		return nil, delivery.Ignored("comment on a pull request")
	}
	c := e.GetComment()
	if !slices.Contains(trusted, c.GetAuthorAssociation()) {
		// A public review repository must not let anyone file tickets.
		return nil, delivery.Ignored("%s from %s (%s): only the repository's owners, members and collaborators file follow-ups",
			FollowUpCommand, c.GetUser().GetLogin(), c.GetAuthorAssociation())
	}
	inFence := false
	for i, line := range strings.Split(c.GetBody(), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
		}
		if len(ev.FollowUps) == maxPerComment {
			break
		}
		if req, ok := ParseFollowUp(line); ok && !inFence {
			req.Key = fmt.Sprintf("github:comment:%d:%d", c.GetID(), i)
			req.Origin = c.GetHTMLURL()
			ev.FollowUps = append(ev.FollowUps, req)
		}
	}
	if len(ev.FollowUps) == 0 {
		return nil, delivery.Ignored("comment without a %s <title> line", FollowUpCommand)
	}
	return reviewIssueEvent(ev, e.GetIssue(), e.GetRepo(), c.GetUser().GetLogin(), c.GetCreatedAt().Time)
}

// followUpEdit reads the unchecked task-list items under the review doc's
// Follow-ups heading. The router records those it has not seen before, and
// withdraws those not yet filed that people removed or retyped: the body
// of every edit carries them all.
func followUpEdit(ev incident.Event, e *gh.IssuesEvent) ([]incident.Event, error) {
	issue := e.GetIssue()
	for _, item := range reviewdoc.TaskItems(issue.GetBody()) {
		sum := sha256.Sum256([]byte(incident.NormalTitle(item)))
		ev.FollowUps = append(ev.FollowUps, incident.FollowUpRequest{
			Key:   fmt.Sprintf("%s%s#%d:%x", incident.TaskKeyPrefix, strings.ToLower(e.GetRepo().GetFullName()), issue.GetNumber(), sum[:8]),
			Title: incident.ClipTitle(item), Origin: issue.GetHTMLURL(),
		})
	}
	// Even without items: an edit that removed one withdraws it.
	out, err := reviewIssueEvent(ev, issue, e.GetRepo(), e.GetSender().GetLogin(), issue.GetUpdatedAt().Time)
	for i := range out {
		out[i].Type = incident.EventReviewEdited
	}
	return out, err
}

// reviewIssueEvent completes a follow-up request with the review issue it
// came from; the router checks that the issue is the record's review doc.
func reviewIssueEvent(ev incident.Event, issue *gh.Issue, repo *gh.Repository, actor string, at time.Time) ([]incident.Event, error) {
	if ev.Subject = reviewSubject(issue); ev.Subject == "" {
		return nil, delivery.Ignored("issue #%d is not a review doc (no incidenthub:INC-n label)", issue.GetNumber())
	}
	if at.IsZero() {
		return nil, fmt.Errorf("GitHub payload lacks the time of the follow-up request")
	}
	ev.Type, ev.Actor, ev.OccurredAt = incident.EventFollowUpRequested, actor, at.UTC()
	ev.IssueRepo, ev.IssueNumber = repo.GetFullName(), issue.GetNumber()
	return []incident.Event{ev}, nil
}
