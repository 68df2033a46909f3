package router

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// The review lifecycle, in one place:
//
//   - a record resolves: its review doc is to open after the decompression
//     time (ReviewActions) when its severity requires a review, or when
//     someone asked for one: a "/review" note on a page (decidePage), or
//     `incidenthub incidents review` (review.requested, at once);
//   - the doc opens (review.opened, reported by the job that created it):
//     the record is reviewing and due ReviewDueWithin later; a reminder is
//     scheduled for then; each page gets a note linking the doc, and each
//     merged pull request among its changes a blameless note;
//   - every later change of the record refreshes the doc's hub sections;
//     a summary is posted once per resolution (review.summarised);
//   - the review issue closes: the record is closed; it reopens: the
//     record is reviewing again (decideReview).

// ReviewCommand is the note that asks for a review.
const ReviewCommand = "/review"

// ReviewActions says which review work a change of a record calls for,
// and sets when its doc is to open (after.ReviewOpensAt), which the job
// that opens it follows. A record whose doc exists gets its hub sections
// brought up to date. Otherwise, once resolved, a record gets a review doc
// after the decompression time when its severity requires one, or when
// someone asked for one, which is how optional reviews open, and how a
// review overrides "none".
func (r Rules) ReviewActions(before, after *incident.Record) []incident.Action {
	if after.ReviewDocNumber > 0 {
		return []incident.Action{{Kind: incident.ActionReviewDoc}}
	}
	if after.Status != incident.StatusResolved {
		after.ReviewOpensAt = time.Time{}
		return nil
	}
	wait, required := r.reviewWait(after.Severity)
	if after.Kind == incident.KindDrill {
		// A drill's debrief is best while it is fresh: nobody needs to
		// decompress from an exercise.
		wait, required = 0, true
	}
	if !(required || after.ReviewRequested) {
		after.ReviewOpensAt = time.Time{}
		return nil
	}
	opens := after.ResolvedAt.Add(wait)
	if early := after.ReviewOpensAt; !early.Before(after.ResolvedAt) && early.Before(opens) {
		// Asked for at once (the CLI) since the record resolved.
		opens = early
	}
	after.ReviewOpensAt = opens
	resolvedNow := before == nil || before.Status != incident.StatusResolved
	requestedNow := after.ReviewRequested && (before == nil || !before.ReviewRequested)
	if !(resolvedNow || requestedNow) {
		return nil
	}
	return []incident.Action{{Kind: incident.ActionReviewDoc, RunAt: opens}}
}

// reviewWait is a severity's decompression time, and whether it requires
// a review.
func (r Rules) reviewWait(severity string) (wait time.Duration, required bool) {
	wait = r.ReviewOpenAfter
	for _, s := range r.Severities {
		if s.Name == severity {
			required = s.Review == "required"
			if s.ReviewOpenAfter > 0 {
				wait = s.ReviewOpenAfter
			}
		}
	}
	return wait, required
}

// decideReview closes a record when its review issue closes, and
// reopens the review when the issue reopens.
func decideReview(s State, ev incident.Event, r Rules) Decision {
	if s.Owner == nil {
		return Decision{Ignore: "the review issue's incident " + ev.Subject + " is not known"}
	}
	// Only the record's own review issue speaks for it: another issue
	// that carries the label (a follow-up that copied it) does not.
	if reason := notReviewDoc(s.Owner, ev, r); reason != "" {
		return Decision{Ignore: reason}
	}
	rec := s.Owner.Clone()
	var entry incident.TimelineEntry
	switch {
	case ev.Type == incident.EventReviewClosed && rec.Status != incident.StatusClosed:
		if rec.Status.Active() {
			return Decision{Ignore: rec.Ref() + " is still " + string(rec.Status) + ": its review cannot close it"}
		}
		rec.Status = incident.StatusClosed
		entry = incident.TimelineEntry{Kind: incident.EntryReviewClosed, Summary: "Review closed" + by(ev.Actor) + "; the incident is closed"}
	case ev.Type == incident.EventReviewReopened && rec.Status == incident.StatusClosed:
		rec.Status = incident.StatusReviewing
		entry = incident.TimelineEntry{Kind: incident.EntryReviewReopened, Summary: "Review reopened" + by(ev.Actor)}
	default:
		return Decision{Ignore: rec.Ref() + " is already " + string(rec.Status)}
	}
	entry.At, entry.Source, entry.Key = ev.OccurredAt, string(ev.Source), "github:"+ev.ID
	acts := []incident.Action{{Kind: incident.ActionReviewDoc}}
	if rec.Status == incident.StatusClosed && rec.Kind != incident.KindDrill {
		// Its final text goes to the incident database; closed again
		// after a reopening, the same file is updated.
		acts = append(acts, incident.Action{Kind: incident.ActionArchiveReview})
	}
	return Decision{Record: &rec, Entries: []incident.TimelineEntry{entry}, Actions: acts}
}

// notReviewDoc says why an event's issue is not the record's review doc,
// or "" when it is.
func notReviewDoc(rec *incident.Record, ev incident.Event, r Rules) string {
	if !strings.EqualFold(ev.IssueRepo, r.ReviewRepo) || ev.IssueNumber != rec.ReviewDocNumber {
		return fmt.Sprintf("%s#%d is not the review doc of %s", ev.IssueRepo, ev.IssueNumber, rec.Ref())
	}
	return ""
}

// decideReviewRequest asks for the review doc at once: how an optional
// review opens from the CLI, and how one overrides "none". A record not
// yet resolved gets its doc after its decompression time, once resolved.
func decideReviewRequest(rec incident.Record, ev incident.Event, r Rules) Decision {
	if rec.ReviewDocNumber > 0 {
		return Decision{Ignore: rec.Ref() + " already has its review doc, " + rec.ReviewDoc}
	}
	rec.ReviewRequested = true
	if rec.Status == incident.StatusResolved {
		rec.ReviewOpensAt = ev.OccurredAt
	}
	return Decision{
		Record: &rec,
		Entries: []incident.TimelineEntry{{At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryReviewRequested,
			Key: "review.requested", Summary: "Review requested" + by(ev.Actor)}},
		// As if it resolved now: a request runs the job even when an
		// earlier one (a /review note) already asked.
		Actions: r.ReviewActions(nil, &rec),
	}
}

// decideReviewOpened records the review doc the job opened: the record is
// reviewing and due; a reminder waits for the due date; the pages get a
// note linking the doc, and merged pull requests among the changes a
// blameless one (comment_on_changes). One more run of the doc's job
// writes its own opening into its timeline.
func decideReviewOpened(rec incident.Record, ev incident.Event, r Rules) Decision {
	if rec.ReviewDocNumber > 0 {
		if rec.ReviewDocNumber != ev.IssueNumber {
			return Decision{Ignore: fmt.Sprintf("%s already has its review doc #%d", rec.Ref(), rec.ReviewDocNumber),
				Notices: []string{fmt.Sprintf("a second review doc #%d was reported for %s, which has #%d: close one of them",
					ev.IssueNumber, rec.Ref(), rec.ReviewDocNumber)}}
		}
		return Decision{Ignore: rec.Ref() + "'s review doc is recorded already"}
	}
	rec.ReviewDoc, rec.ReviewDocNumber = ev.URL, ev.IssueNumber
	if rec.Status == incident.StatusResolved {
		rec.Status = incident.StatusReviewing
	}
	rec.ReviewDue = ev.OccurredAt.Add(r.ReviewDueWithin).Truncate(time.Second)
	acts := []incident.Action{
		{Kind: incident.ActionReviewReminder, RunAt: rec.ReviewDue},
		{Kind: incident.ActionReviewDoc},
	}
	for _, p := range rec.Pages {
		acts = append(acts, incident.Action{Kind: incident.ActionPageNote, Target: p.ID})
	}
	// A drill's debrief says nothing on real pull requests: their authors
	// were in no incident.
	if r.CommentOnChanges && rec.Kind != incident.KindDrill {
		for _, c := range rec.Changes {
			if c.Kind == incident.ChangeMerge && c.PRNumber > 0 {
				acts = append(acts, incident.Action{Kind: incident.ActionChangeNote, Target: c.Key})
			}
		}
	}
	return Decision{
		Record: &rec,
		Entries: []incident.TimelineEntry{{At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryReviewOpened,
			URL: ev.URL, Key: "review.opened", Summary: fmt.Sprintf("Review doc opened: %s#%d", r.ReviewRepo, ev.IssueNumber)}},
		Actions: acts,
	}
}

// decideReviewSummarised records the resolution the review issue's
// summary was posted for: one summary per resolution, and a record
// resolved again later gets a new one.
func decideReviewSummarised(rec incident.Record, ev incident.Event) Decision {
	if rec.SummaryFor.Equal(ev.For) {
		return Decision{Ignore: rec.Ref() + "'s summary is recorded already"}
	}
	rec.SummaryFor = ev.For
	return Decision{Record: &rec}
}

// decideReviewArchived records where the closed review's text is in the
// incident database, and which sections people wrote.
func decideReviewArchived(rec incident.Record, ev incident.Event) Decision {
	if rec.Archived == ev.Target && slices.Equal(rec.Learned, ev.Learned) {
		return Decision{Ignore: rec.Ref() + "'s archive is recorded already"}
	}
	first := rec.Archived == ""
	rec.Archived, rec.Learned = ev.Target, append([]string(nil), ev.Learned...)
	d := Decision{Record: &rec}
	if first {
		d.Entries = []incident.TimelineEntry{{At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryReviewArchived,
			URL: ev.URL, Key: "review.archived", Summary: "Review committed to the incident database: " + ev.Target}}
	}
	return d
}
