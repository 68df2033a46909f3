package router

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// entryKinds maps page events to timeline entry kinds.
var entryKinds = map[incident.EventType]string{
	incident.EventPageTriggered:      incident.EntryPageTriggered,
	incident.EventPageAcknowledged:   incident.EntryPageAcknowledged,
	incident.EventPageUnacknowledged: incident.EntryPageUnacknowledged,
	incident.EventPageResolved:       incident.EntryPageResolved,
	incident.EventPageReopened:       incident.EntryPageReopened,
	incident.EventPageReassigned:     incident.EntryPageReassigned,
	incident.EventPageEscalated:      incident.EntryPageEscalated,
	incident.EventPagePriority:       incident.EntryPagePriority,
	incident.EventPageNote:           incident.EntryNote,
	incident.EventPageResponderAdded: incident.EntryPageResponderAdded,
	incident.EventPageStatusUpdate:   incident.EntryStatusUpdate,
}

func decidePage(s State, ev incident.Event, r Rules) Decision {
	kind, ok := entryKinds[ev.Type]
	if !ok {
		return Decision{Ignore: "no rule for " + string(ev.Type)}
	}
	var (
		d   Decision
		rec incident.Record
	)
	switch {
	case s.Owner != nil:
		rec = s.Owner.Clone()
	case ev.Snapshot == nil:
		// Notes, responders and status updates carry only a reference to
		// their page, so they cannot open a record.
		return Decision{Defer: "PagerDuty incident " + ev.PageID + " is not known yet"}
	default:
		rec, d.Opened = r.recordFor(s.Active, ev)
	}
	before := rec.Clone()

	page, known := rec.Page(ev.PageID)
	switch {
	case !known && ev.Snapshot == nil:
		// The owner was found by page id, so this cannot happen unless the
		// store and the record disagree; refuse rather than guess.
		return Decision{Defer: "PagerDuty incident " + ev.PageID + " is not on " + rec.Ref()}
	case !known:
		if rec.Kind == incident.KindAwareness {
			// Something paged during the announced change: it is an
			// incident now, and its severity follows its pages.
			rec.Kind = incident.KindIncident
			d.Entries = append(d.Entries, incident.TimelineEntry{
				At: pageStart(ev), Source: string(ev.Source), Kind: incident.EntryKindChanged,
				Key:     "pagerduty:" + ev.ID + ":kind",
				Summary: "Paged during the announced change: this is an incident now",
			})
		}
		rec.Pages = append(rec.Pages, r.newPage(ev))
		page = &rec.Pages[len(rec.Pages)-1]
		if _, _, mapped := r.service(page.ServiceID); !mapped {
			d.Notices = append(d.Notices, fmt.Sprintf("PagerDuty service %s (%s) is not in the configuration: its pages open records with service %q",
				page.ServiceID, page.ServiceName, incident.UnmappedService))
			d.Entries = append(d.Entries, incident.TimelineEntry{
				At: page.TriggeredAt, Source: string(ev.Source), Kind: incident.EntryServiceUnmapped,
				Key:     "pagerduty:unmapped:" + page.ID,
				Summary: fmt.Sprintf("PagerDuty service %s (%s) is not in the configuration; add it to a service's pagerduty_service_ids", page.ServiceName, page.ServiceID),
			})
		}
	default:
		r.applySnapshot(page, ev)
	}
	applyFacts(&rec, page, ev)
	r.derive(&rec)

	d.Entries = append(d.Entries, incident.TimelineEntry{
		At: ev.OccurredAt, Source: string(ev.Source), Kind: kind, URL: ev.PageURL,
		Key: "pagerduty:" + ev.ID, Summary: summary(ev, page),
	})
	if !d.Opened && before.Severity != rec.Severity {
		d.Entries = append(d.Entries, incident.TimelineEntry{
			At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntrySeverityChanged,
			Key:     "pagerduty:" + ev.ID + ":severity",
			Summary: fmt.Sprintf("Severity %s → %s (%s: %s)", before.Severity, rec.Severity, label(page), pageGrade(page)),
		})
	}
	if !d.Opened && before.Status != rec.Status {
		d.Entries = append(d.Entries, incident.TimelineEntry{
			At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryStatusChanged,
			Key:     "pagerduty:" + ev.ID + ":status",
			Summary: fmt.Sprintf("Status %s → %s", before.Status, rec.Status),
		})
	}
	d.Record = &rec
	var prior *incident.Record
	if !d.Opened {
		prior = &before
	}
	d.Actions = r.ReviewActions(prior, &rec)
	if !known && rec.ReviewDocNumber > 0 {
		// A page that joins after the doc opened gets its note too.
		d.Actions = append(d.Actions, incident.Action{Kind: incident.ActionPageNote, Target: ev.PageID})
	}
	return d
}

// recordFor returns the active record a new page joins (a page storm), or
// a new record. Times compared are when the page began, never arrival.
// activeAt reports whether a record was active when a page started: it
// is, or it resolved only after. A page delivered late thus joins the
// storm it was part of, as it would have live, even when another page's
// resolve was decided first; the record is active again with it.
func activeAt(rec *incident.Record, at time.Time) bool {
	if rec.Status.Active() {
		return true
	}
	return (rec.Status == incident.StatusResolved || rec.Status == incident.StatusReviewing) && at.Before(rec.ResolvedAt)
}

func (r Rules) recordFor(active []incident.Record, ev incident.Event) (incident.Record, bool) {
	service, key, _ := r.service(ev.Snapshot.ServiceID)
	at := pageStart(ev)
	var (
		best *incident.Record
		gap  time.Duration
	)
	for i := range active {
		c := &active[i]
		if c.CorrelationKey != key || !activeAt(c, at) {
			continue
		}
		// Symmetric, so that a storm delivered out of order still merges
		// as it would have live. An announced risky change is watched for
		// as long as it is active.
		g := at.Sub(c.OpenedAt).Abs()
		announced := c.Kind == incident.KindAwareness && !at.Before(c.OpenedAt)
		if (g <= r.MergeWindow || announced) && (best == nil || g < gap) {
			best, gap = c, g
		}
	}
	if best != nil {
		return best.Clone(), false
	}
	return incident.Record{
		Title:          ev.Snapshot.Title,
		Status:         incident.StatusOpen,
		Kind:           incident.KindIncident,
		Service:        service,
		CorrelationKey: key,
		OpenedAt:       at,
	}, true
}

// pageStart is when the page began: its created_at when the snapshot has
// one (2026 payloads do, 2021 ones do not), else the event's time.
func pageStart(ev incident.Event) time.Time {
	if ev.Snapshot != nil && !ev.Snapshot.TriggeredAt.IsZero() {
		return ev.Snapshot.TriggeredAt
	}
	return ev.OccurredAt
}

func (r Rules) newPage(ev incident.Event) incident.Page {
	p := *ev.Snapshot
	p.ID = ev.PageID
	p.Assignees = slices.Clone(p.Assignees)
	p.TriggeredAt = pageStart(ev)
	p.SnapshotAt = ev.OccurredAt
	p.Severity = r.severity(&p)
	if p.Status == incident.PageResolved {
		p.ResolvedAt = ev.OccurredAt
	}
	return p
}

// applySnapshot updates a known page from the event's snapshot, unless a
// newer snapshot was applied already (a late, older delivery).
func (r Rules) applySnapshot(p *incident.Page, ev incident.Event) {
	if start := pageStart(ev); start.Before(p.TriggeredAt) {
		p.TriggeredAt = start
	}
	if ev.Snapshot == nil || ev.OccurredAt.Before(p.SnapshotAt) {
		return
	}
	s := ev.Snapshot
	if s.Status == incident.PageResolved && p.Status != incident.PageResolved {
		p.ResolvedAt = ev.OccurredAt
	}
	if s.Status != incident.PageResolved {
		p.ResolvedAt = time.Time{}
	}
	p.Status = s.Status
	p.Title = s.Title
	p.Number = s.Number
	p.URL = s.URL
	p.ServiceName = s.ServiceName
	p.Urgency = s.Urgency
	p.Priority = s.Priority
	p.Assignees = slices.Clone(s.Assignees)
	p.Severity = r.severity(p)
	p.SnapshotAt = ev.OccurredAt
}

// applyFacts records what the event says about people, whatever its order.
func applyFacts(rec *incident.Record, p *incident.Page, ev incident.Event) {
	if ev.Snapshot != nil {
		for _, a := range ev.Snapshot.Assignees {
			addResponder(rec, a)
		}
	}
	switch ev.Type {
	case incident.EventPageAcknowledged:
		if rec.AcknowledgedAt.IsZero() || ev.OccurredAt.Before(rec.AcknowledgedAt) {
			rec.AcknowledgedAt = ev.OccurredAt
		}
		if ev.Actor != "" {
			addResponder(rec, ev.Actor)
			// The first acknowledger leads, even when their
			// acknowledgement is delivered after someone else's.
			if rec.Commander == "" || ev.OccurredAt.Before(rec.CommanderAt) {
				rec.Commander, rec.CommanderAt = ev.Actor, ev.OccurredAt
			}
		}
	case incident.EventPageResponderAdded:
		addResponder(rec, ev.Subject)
	case incident.EventPageNote:
		if strings.TrimSpace(ev.Text) == ReviewCommand {
			rec.ReviewRequested = true
		}
	}
}

func addResponder(rec *incident.Record, name string) {
	if name != "" && !slices.Contains(rec.Responders, name) {
		rec.Responders = append(rec.Responders, name)
	}
}

// derive recomputes what follows from the pages.
func (r Rules) derive(rec *incident.Record) {
	var (
		triggered, acknowledged bool
		resolvedAt              time.Time
		severity                string
	)
	for _, p := range rec.Pages {
		switch p.Status {
		case incident.PageTriggered:
			triggered = true
		case incident.PageAcknowledged:
			acknowledged = true
		case incident.PageResolved:
			if p.ResolvedAt.After(resolvedAt) {
				resolvedAt = p.ResolvedAt
			}
		}
		if p.TriggeredAt.Before(rec.OpenedAt) {
			rec.OpenedAt = p.TriggeredAt
		}
		if severity == "" || r.rank(p.Severity) < r.rank(severity) {
			severity = p.Severity
		}
	}
	status := incident.StatusResolved
	switch {
	case triggered:
		status = incident.StatusOpen
	case acknowledged:
		status = incident.StatusAcknowledged
	}
	// A record under review (or closed) stays there while its pages stay
	// resolved; a reopened page makes it open again.
	if underReview := rec.Status == incident.StatusReviewing || rec.Status == incident.StatusClosed; !underReview || status != incident.StatusResolved {
		rec.Status = status
	}
	if status == incident.StatusResolved {
		rec.ResolvedAt = resolvedAt
	} else {
		rec.ResolvedAt = time.Time{}
	}
	if rec.SeveritySetBy == "" && severity != "" {
		rec.Severity = severity
	}
}

func label(p *incident.Page) string {
	if p.Number > 0 {
		return fmt.Sprintf("#%d", p.Number)
	}
	return p.ID
}

func pageGrade(p *incident.Page) string {
	var parts []string
	if p.Priority != "" {
		parts = append(parts, "priority "+p.Priority)
	}
	if p.Urgency != "" {
		parts = append(parts, p.Urgency+" urgency")
	}
	if len(parts) == 0 {
		return "no priority"
	}
	return strings.Join(parts, ", ")
}

func by(actor string) string {
	if actor == "" {
		return ""
	}
	return " by " + actor
}

// summary is one line for the timeline. Vendor text is kept as sent; each
// sink escapes it for its own format.
func summary(ev incident.Event, p *incident.Page) string {
	l := label(p)
	switch ev.Type {
	case incident.EventPageTriggered:
		return fmt.Sprintf("%s triggered on %s: %s (%s)", l, p.ServiceName, p.Title, pageGrade(p))
	case incident.EventPageAcknowledged:
		return fmt.Sprintf("%s acknowledged%s", l, by(ev.Actor))
	case incident.EventPageUnacknowledged:
		return fmt.Sprintf("%s unacknowledged: the acknowledgement timed out", l)
	case incident.EventPageResolved:
		return fmt.Sprintf("%s resolved%s", l, by(ev.Actor))
	case incident.EventPageReopened:
		return fmt.Sprintf("%s reopened%s", l, by(ev.Actor))
	case incident.EventPageReassigned:
		return fmt.Sprintf("%s reassigned to %s%s", l, assignees(ev), by(ev.Actor))
	case incident.EventPageEscalated:
		return fmt.Sprintf("%s escalated to %s", l, assignees(ev))
	case incident.EventPagePriority:
		priority := p.Priority
		if ev.Snapshot != nil {
			priority = ev.Snapshot.Priority
		}
		return fmt.Sprintf("%s priority set to %s%s", l, orNone(priority), by(ev.Actor))
	case incident.EventPageNote:
		return fmt.Sprintf("Note%s on %s: %s", by(ev.Actor), l, ev.Text)
	case incident.EventPageStatusUpdate:
		return fmt.Sprintf("Status update%s: %s", by(ev.Actor), ev.Text)
	case incident.EventPageResponderAdded:
		return fmt.Sprintf("%s asked to respond to %s%s", orNone(ev.Subject), l, by(ev.Actor))
	}
	return string(ev.Type)
}

func assignees(ev incident.Event) string {
	if ev.Snapshot == nil || len(ev.Snapshot.Assignees) == 0 {
		return "nobody"
	}
	return strings.Join(ev.Snapshot.Assignees, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
