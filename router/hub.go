package router

import (
	"fmt"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// decideHub decides what the hub's own results mean: what its jobs made
// on the vendors, and what people asked of it through the CLI. The jobs
// only report; every change of state they lead to is decided here.
func decideHub(s State, ev incident.Event, r Rules) Decision {
	if ev.Type == incident.EventDrillStarted {
		return decideDrillStarted(ev, r)
	}
	if s.Owner == nil {
		return Decision{Ignore: ev.Subject + " is not known"}
	}
	rec := s.Owner.Clone()
	switch ev.Type {
	case incident.EventReviewRequested:
		return decideReviewRequest(rec, ev, r)
	case incident.EventReviewOpened:
		return decideReviewOpened(rec, ev, r)
	case incident.EventReviewSummarised:
		return decideReviewSummarised(rec, ev)
	case incident.EventFollowUpFiling, incident.EventFollowUpFiled, incident.EventFollowUpLinked:
		return decideFiling(rec, s.FollowUp, ev)
	case incident.EventReviewReminded, incident.EventNoteAdded, incident.EventChangeNoted, incident.EventFollowUpReplied,
		incident.EventFollowUpCreating:
		// A comment or a note the hub posted (found again by its hidden
		// marker), or a create it is about to ask for: nothing on the
		// record changes. The stored event is the record of what the hub
		// did, and when.
		return Decision{}
	case incident.EventActionFailed:
		return decideActionFailed(rec, ev)
	case incident.EventDrillEnded:
		return decideDrillEnded(rec, ev, r)
	case incident.EventDrillStep:
		return decideDrillStep(rec, ev)
	case incident.EventReviewArchived:
		return decideReviewArchived(rec, ev)
	default:
		return Decision{Ignore: "no rules for hub event " + string(ev.Type)}
	}
}

// decideActionFailed puts a job that failed for good on the timeline, so
// that whoever reads the record sees what the hub could not do, and how
// to run it again once the cause is fixed.
func decideActionFailed(rec incident.Record, ev incident.Event) Decision {
	return Decision{Record: &rec, Entries: []incident.TimelineEntry{{
		At: ev.OccurredAt, Source: string(incident.SourceHub), Kind: incident.EntryActionFailed, Key: ev.ID,
		Summary: fmt.Sprintf("%s failed for good (%s); `incidenthub actions retry` runs it again once the cause is fixed",
			ev.Target, ev.Text),
	}}}
}
