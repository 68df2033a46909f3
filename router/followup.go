package router

import (
	"fmt"
	"slices"
	"strings"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// decideFollowUpRequest records the follow-ups a review issue asks for,
// each once however often the comment or the edit is delivered, and asks
// for their tickets. A task-list item waits TaskSettle before it is filed:
// an edit that retypes or removes it meanwhile withdraws it, so that a
// typo fixed a minute later does not become a second ticket.
func decideFollowUpRequest(s State, ev incident.Event, r Rules) Decision {
	if s.Owner == nil {
		return Decision{Ignore: "the review issue's incident " + ev.Subject + " is not known"}
	}
	if reason := notReviewDoc(s.Owner, ev, r); reason != "" {
		return Decision{Ignore: reason}
	}
	rec := s.Owner.Clone()
	known := slices.Clone(s.FollowUps)
	var dec Decision
	if ev.Type == incident.EventReviewEdited {
		for _, f := range s.FollowUps {
			if f.Settling() && !slices.ContainsFunc(ev.FollowUps, func(req incident.FollowUpRequest) bool {
				return req.Key == f.Key || sameTitle(f.Title, req.Title)
			}) {
				dec.Withdraw = append(dec.Withdraw, f.Key)
				known = slices.DeleteFunc(known, func(k incident.FollowUp) bool { return k.Key == f.Key })
				dec.Entries = append(dec.Entries, incident.TimelineEntry{
					At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryFollowUpWithdrawn, URL: f.Origin,
					Key: "followup.withdrawn:" + f.Key + ":" + ev.ID, Summary: "Follow-up withdrawn before filing" + by(ev.Actor) + ": " + f.Title,
				})
			}
		}
	}
	refresh := false
	for _, req := range ev.FollowUps {
		if slices.ContainsFunc(known, func(f incident.FollowUp) bool {
			return f.Key == req.Key || sameTitle(f.Title, req.Title)
		}) {
			continue
		}
		f := incident.FollowUp{
			IncidentID: rec.ID, Key: req.Key, Title: req.Title, Owner: req.Owner, Priority: req.Priority,
			IssueType: req.IssueType, Origin: req.Origin, RequestedBy: ev.Actor, RequestedAt: ev.OccurredAt,
			Status: incident.FollowUpOpen,
		}
		f.TicketLabel = incident.TicketLabelFor(&f)
		known = append(known, f)
		dec.FollowUps = append(dec.FollowUps, f)
		dec.Entries = append(dec.Entries, incident.TimelineEntry{
			At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryFollowUpRequested, URL: req.Origin,
			Key: "followup:" + req.Key, Summary: "Follow-up requested" + by(ev.Actor) + ": " + req.Title,
		})
		file := incident.Action{Kind: incident.ActionFileFollowUp, Target: req.Key}
		if f.Settling() {
			file.RunAt = ev.OccurredAt.Add(r.TaskSettle)
		} else {
			refresh = true // the doc lists it at once, as being filed
		}
		dec.Actions = append(dec.Actions, file)
	}
	if len(dec.FollowUps) == 0 && len(dec.Withdraw) == 0 {
		return Decision{Ignore: "every follow-up it asks for is already recorded on " + rec.Ref()}
	}
	dec.Record = &rec
	if refresh {
		dec.Actions = append(dec.Actions, incident.Action{Kind: incident.ActionReviewDoc})
	}
	return dec
}

func sameTitle(a, b string) bool { return incident.NormalTitle(a) == incident.NormalTitle(b) }

// decideTicket follows a Jira ticket: the follow-up it belongs to moves
// with the ticket's status, in the order things happened in Jira; a ticket
// that carries an incident's label and no follow-up is adopted as one.
func decideTicket(s State, ev incident.Event, r Rules) Decision {
	t := ev.Ticket
	f, adopting := s.FollowUp, false
	if f == nil && s.Owner != nil {
		// The hub's own ticket, before the job that filed it recorded it:
		// its unique label says which follow-up it is.
		for i := range s.FollowUps {
			c := &s.FollowUps[i]
			if c.TicketLabel == "" || !slices.Contains(t.Labels, c.TicketLabel) {
				continue
			}
			if c.JiraID != "" {
				// A second ticket with one follow-up's label is a duplicate
				// the hub filed despite itself: never a follow-up of its own.
				return Decision{Ignore: fmt.Sprintf("Jira %s duplicates %s, the ticket of the same follow-up", t.Key, c.JiraKey),
					Notices: []string{fmt.Sprintf("Jira %s duplicates %s (follow-up %q of %s): close one of them", t.Key, c.JiraKey, c.Title, s.Owner.Ref())}}
			}
			f = c
		}
	}
	if f == nil {
		if s.Owner == nil || t.Deleted || ev.Type == incident.EventFollowUpComment {
			return Decision{Ignore: fmt.Sprintf("Jira %s is not a follow-up of a known incident", t.Key)}
		}
		if !slices.Contains(r.JiraProjects, t.Project) {
			return Decision{Ignore: fmt.Sprintf("Jira %s carries %s's label but project %s is no service's jira_project", t.Key, s.Owner.Ref(), t.Project)}
		}
		f, adopting = &incident.FollowUp{
			IncidentID: s.Owner.ID, Key: "jira:" + t.ID, Title: t.Summary, RequestedBy: ev.Actor,
			RequestedAt: ev.OccurredAt, Status: incident.FollowUpOpen,
		}, true
	}
	if s.Owner == nil || s.Owner.ID != f.IncidentID {
		return Decision{Ignore: fmt.Sprintf("the incident of Jira %s is not known", t.Key)}
	}
	rec := s.Owner.Clone()
	if ev.Type == incident.EventFollowUpComment {
		return Decision{Record: &rec, Entries: []incident.TimelineEntry{{
			At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryFollowUpComment, URL: ticketURL(f, t),
			Key: "jira:" + ev.ID, Summary: fmt.Sprintf("Comment on %s%s: %s", t.Key, by(ev.Actor), firstLine(ev.Text, 200)),
		}}, Actions: reviewRefresh(&rec)}
	}
	if !adopting && ev.OccurredAt.Before(f.StatusAt) {
		return Decision{Ignore: fmt.Sprintf("Jira %s: an older event than the state the hub applied", t.Key)}
	}
	next := *f
	if !adopting && next.Filed() && !t.Deleted && t.Summary != "" {
		next.Title = t.Summary
		if rec.Kind == incident.KindDrill {
			// The ticket is marked as a drill's; the debrief is one.
			next.Title = strings.TrimPrefix(next.Title, incident.DrillTitle(""))
		}
	}
	next.JiraID, next.JiraKey = t.ID, t.Key
	if t.URL != "" {
		next.JiraURL = t.URL
	}
	if !t.Deleted {
		next.JiraStatus, next.Assignee = t.Status, t.Assignee
	} else {
		next.JiraStatus = "Deleted"
	}
	next.Status = incident.FollowUpStatusOf(t)
	var entry incident.TimelineEntry
	switch {
	case adopting:
		entry = incident.TimelineEntry{Kind: incident.EntryFollowUpFiled,
			Summary: fmt.Sprintf("Follow-up %s filed in Jira%s: %s", t.Key, by(ev.Actor), t.Summary)}
	case !f.Filed():
		entry = incident.FiledEntry(&next, ev.OccurredAt, string(ev.Source))
	case t.Deleted:
		entry = incident.TimelineEntry{Kind: incident.EntryFollowUpUpdated,
			Summary: fmt.Sprintf("Follow-up %s was deleted in Jira%s", f.JiraKey, by(ev.Actor))}
	case next.Status != f.Status || (f.JiraStatus != "" && next.JiraStatus != f.JiraStatus):
		entry = incident.TimelineEntry{Kind: incident.EntryFollowUpUpdated,
			Summary: fmt.Sprintf("Follow-up %s moved to %s%s", t.Key, next.JiraStatus, by(ev.Actor))}
	case next != *f:
		// Worth showing in the doc, not worth a timeline entry.
	case ev.OccurredAt.After(f.StatusAt):
		// Nothing the hub shows changed (a description edit, a comment's
		// own update): only the time of the state moves, so that an older
		// event delivered later cannot undo it. No doc refresh.
		next.StatusAt = ev.OccurredAt
		return Decision{FollowUps: []incident.FollowUp{next}}
	default:
		return Decision{Ignore: fmt.Sprintf("Jira %s: nothing the hub follows changed", t.Key)}
	}
	next.StatusAt = ev.OccurredAt
	dec := Decision{Record: &rec, FollowUps: []incident.FollowUp{next}, Actions: reviewRefresh(&rec)}
	if entry.Kind != "" {
		if entry.Key == "" {
			entry.At, entry.Source, entry.URL, entry.Key = ev.OccurredAt, string(ev.Source), ticketURL(&next, t), "jira:"+ev.ID
		}
		dec.Entries = []incident.TimelineEntry{entry}
	}
	if !f.Filed() && !adopting {
		dec.Actions = incident.FiledActions(&rec, &next)
	}
	return dec
}

// reviewRefresh brings the review doc's sections up to date, once it exists.
func reviewRefresh(rec *incident.Record) []incident.Action {
	if rec.ReviewDocNumber == 0 {
		return nil
	}
	return []incident.Action{{Kind: incident.ActionReviewDoc}}
}

func ticketURL(f *incident.FollowUp, t *incident.Ticket) string {
	if f.JiraURL != "" {
		return f.JiraURL
	}
	return t.URL
}

// firstLine is the first line of untrusted text, at most n runes.
func firstLine(s string, n int) string {
	s, _, cut := strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	} else if cut {
		return s + " …"
	}
	return s
}

// decideFiling follows the job that files a follow-up's ticket. Filing
// begins (followup.filing) before the first create, so that from then on
// an edit of the review doc no longer withdraws the task-list item. The
// ticket filed (followup.filed) is recorded unless its own webhook got
// there first, and calls for the doc's refresh, the confirming reply and
// a note on each page. A linked ticket (followup.linked) links back to
// the review issue.
func decideFiling(rec incident.Record, f *incident.FollowUp, ev incident.Event) Decision {
	if f == nil || f.IncidentID != rec.ID {
		return Decision{Ignore: "follow-up " + ev.FollowUpKey + " of " + rec.Ref() + " was withdrawn"}
	}
	next := *f
	switch ev.Type {
	case incident.EventFollowUpFiling:
		if f.Filed() || !f.FilingSince.IsZero() {
			return Decision{Ignore: "follow-up " + f.Key + " is being filed already"}
		}
		next.FilingSince = ev.OccurredAt
		if next.TicketLabel == "" {
			next.TicketLabel = incident.TicketLabelFor(f)
		}
		return Decision{FollowUps: []incident.FollowUp{next}}
	case incident.EventFollowUpLinked:
		if f.Linked {
			return Decision{Ignore: "follow-up " + f.Key + " is linked already"}
		}
		next.Linked = true
		return Decision{FollowUps: []incident.FollowUp{next}}
	}
	t := ev.Ticket
	if f.Filed() || t == nil {
		return Decision{Ignore: "follow-up " + f.Key + "'s ticket is recorded already"}
	}
	next.JiraID, next.JiraKey, next.JiraURL = t.ID, t.Key, t.URL
	if t.Status != "" {
		// Found by search, the ticket may have moved on already.
		next.JiraStatus, next.Status = t.Status, incident.FollowUpStatusOf(t)
	}
	return Decision{
		Record:    &rec,
		FollowUps: []incident.FollowUp{next},
		Entries:   []incident.TimelineEntry{incident.FiledEntry(&next, ev.OccurredAt, string(ev.Source))},
		Actions:   incident.FiledActions(&rec, &next),
	}
}
