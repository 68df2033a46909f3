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
	incident.EventPageRoleAssigned:   incident.EntryRoleAssigned,
}

func decidePage(s State, ev incident.Event, r Rules) Decision {
	kind, ok := entryKinds[ev.Type]
	if !ok || ev.Type == incident.EventPageRoleAssigned && ev.Role == nil {
		return Decision{Ignore: "no rule for " + string(ev.Type)}
	}
	if reason := drillPageRefused(s, ev); reason != "" {
		return Decision{Ignore: reason, Notices: []string{reason}}
	}
	var (
		d      Decision
		before incident.Record
	)
	switch {
	case s.Owner != nil:
		before = *s.Owner
	case ev.Snapshot == nil:
		// Notes, responders and status updates carry only a reference to
		// their page, so they cannot open a record.
		return Decision{Defer: "PagerDuty incident " + ev.PageID + " is not known yet"}
	default:
		before, d.Opened = r.recordFor(s.Active, ev)
	}
	// before is the record as the store knew it, which the router never
	// changes: only rec needs a copy (a storm's record has thousands of
	// pages, copied for each of its deliveries).
	rec := before.Clone()

	page, known := rec.EditPage(ev.PageID)
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
		page = r.newPage(ev)
		rec.Pages = append(rec.Pages, page)
		if !d.Opened {
			retitle(&rec, &before, page)
		}
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
	lead(&rec)
	if ev.Type == incident.EventPageRoleAssigned && ev.Role.Person == "" {
		kind = incident.EntryRoleUnassigned
	}

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
	var joined string
	if !known {
		joined = ev.PageID
	}
	d.Actions = append(d.Actions, r.rolesChecks(prior, &rec, joined)...)
	if !known && r.TriageNotes {
		// What the responder checks first, on the page they were paged
		// by: once, since a page is new to the hub only once.
		d.Actions = append(d.Actions, incident.Action{Kind: incident.ActionTriageNote, Target: ev.PageID})
	}
	return d
}

// recordFor returns the record a new page joins (a page storm), or a new
// record: the candidate itself, which the caller copies before changing.
// Only when things started is compared, never arrival, and never whether
// another page had resolved: that depends on which of the storm's
// deliveries were decided first. So any order of a storm's deliveries
// makes the same record (docs/decisions.md §5).
func (r Rules) recordFor(candidates []incident.Record, ev incident.Event) (incident.Record, bool) {
	service, key, _ := r.service(ev.Snapshot.ServiceID)
	at := pageStart(ev)
	var (
		best *incident.Record
		gap  time.Duration
	)
	for i := range candidates {
		c := &candidates[i]
		if g, ok := joinable(c, key, at, r.MergeWindow); ok && (best == nil || g < gap) {
			best, gap = c, g
		}
	}
	if best != nil {
		return *best, false
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

// joinable reports whether a page of correlation key that started at may
// join rec, and how far apart their starts are. A record not closed joins
// a page that started within window of its opening, before or after, even
// if its pages had all resolved: the storm flapped, and it is one
// incident. An announced risky change is watched for as long as it is
// active.
func joinable(rec *incident.Record, key string, at time.Time, window time.Duration) (time.Duration, bool) {
	if rec.CorrelationKey != key || rec.Status == incident.StatusClosed {
		return 0, false
	}
	gap := at.Sub(rec.OpenedAt).Abs()
	announced := rec.Kind == incident.KindAwareness && rec.Status.Active() && !at.Before(rec.OpenedAt)
	return gap, gap <= window || announced
}

// retitle names a record opened by a page after its earliest page, which
// a storm delivered out of order may only bring later: the title does not
// depend on which page was decided first. An announced change keeps its
// announcement's title.
func retitle(rec *incident.Record, before *incident.Record, joined *incident.Page) {
	if rec.Kind != incident.KindIncident || len(before.Pages) == 0 {
		return
	}
	first := earliest(before.Pages)
	if rec.Title == first.Title && earlierPage(joined, first) {
		rec.Title = joined.Title
	}
}

// earliest is the page that started first (by id when two started at
// once).
func earliest(pages []*incident.Page) *incident.Page {
	first := pages[0]
	for _, p := range pages[1:] {
		if earlierPage(p, first) {
			first = p
		}
	}
	return first
}

func earlierPage(a, b *incident.Page) bool {
	return a.TriggeredAt.Before(b.TriggeredAt) || a.TriggeredAt.Equal(b.TriggeredAt) && a.ID < b.ID
}

// pageStart is when the page began: its created_at when the snapshot has
// one (2026 payloads do, 2021 ones do not), else the event's time.
func pageStart(ev incident.Event) time.Time {
	if ev.Snapshot != nil && !ev.Snapshot.TriggeredAt.IsZero() {
		return ev.Snapshot.TriggeredAt
	}
	return ev.OccurredAt
}

func (r Rules) newPage(ev incident.Event) *incident.Page {
	p := *ev.Snapshot
	p.ID = ev.PageID
	p.Assignees = slices.Clone(p.Assignees)
	p.TriggeredAt = pageStart(ev)
	p.SnapshotAt = ev.OccurredAt
	p.Severity = r.severity(&p)
	if p.Status == incident.PageResolved {
		p.ResolvedAt = ev.OccurredAt
	}
	return &p
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
			// The first acknowledger leads, unless someone holds the
			// commander role, even when their acknowledgement is
			// delivered after someone else's.
			if rec.AckedBy == "" || ev.OccurredAt.Before(rec.CommanderAt) {
				rec.AckedBy, rec.CommanderAt = ev.Actor, ev.OccurredAt
			}
		}
	case incident.EventPageRoleAssigned:
		assignRole(rec, ev)
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
		// The rank of severity, so that a storm's thousands of pages of
		// one severity are compared as strings, not looked up in the
		// rules each (derive runs on every page delivery).
		severityRank int
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
		if p.Severity != severity {
			if rank := r.rank(p.Severity); severity == "" || rank < severityRank {
				severity, severityRank = p.Severity, rank
			}
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
	case incident.EventPageRoleAssigned:
		was := ""
		if ev.Role.Before != "" {
			was = " (was " + ev.Role.Before + ")"
		}
		if ev.Role.Person == "" {
			return fmt.Sprintf("%s unassigned on %s%s%s", ev.Role.Name, l, was, by(ev.Actor))
		}
		return fmt.Sprintf("%s is %s on %s%s%s", ev.Role.Person, ev.Role.Name, l, was, by(ev.Actor))
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
