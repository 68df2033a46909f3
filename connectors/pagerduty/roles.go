package pagerduty

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// RolesNoteArgs tells one page which expected roles are still open, at
// the end of the grace time after its record was acknowledged.
type RolesNoteArgs struct {
	IncidentID int64  `json:"incident_id"`
	PageID     string `json:"page_id"`
}

// Kind implements river.JobArgs.
func (RolesNoteArgs) Kind() string { return "pagerduty.roles_note" }

// InsertOpts: one check per page at a time.
func (RolesNoteArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// RolesWorker adds to a page, once, which of its severity's expected
// roles nobody holds when the grace time ends. The router scheduled the
// check; the note says what the record shows when it runs, so that roles
// assigned meanwhile are not asked for.
type RolesWorker struct {
	river.WorkerDefaults[RolesNoteArgs]
	notes      *pageNotes
	severities []config.Severity
}

// Work adds the note unless every expected role is held, the incident is
// over, or the page has the note already.
func (w *RolesWorker) Work(ctx context.Context, job *river.Job[RolesNoteArgs]) error {
	return w.notes.write(ctx, job.Args.IncidentID, job.Args.PageID, func(_ context.Context, rec *incident.Record) (*pageNote, error) {
		var sev config.Severity
		for _, s := range w.severities {
			if s.Name == rec.Severity {
				sev = s
			}
		}
		open := incident.OpenRoles(rec, sev.RolesExpected)
		if len(open) == 0 || !rec.Status.Active() || rec.Kind != incident.KindIncident {
			return nil, nil
		}
		content, marker := RolesNote(rec, open, sev.RolesExpected, w.notes.now().Sub(rec.AcknowledgedAt))
		return &pageNote{content: content, marker: marker, about: []string{"roles"}}, nil
	})
}

// RolesNote is the note naming the open roles, and its marker.
func RolesNote(rec *incident.Record, open, expected []string, acknowledged time.Duration) (content, marker string) {
	marker = "[incidenthub " + rec.Ref() + " roles]"
	var b strings.Builder
	fmt.Fprintf(&b, "incidenthub %s (%s): acknowledged %s ago, and nobody holds the %s role%s yet. %s incidents expect: %s.\n",
		rec.Ref(), rec.Severity, incident.ShortDuration(acknowledged), plain(joinAnd(open)), plural(len(open)), rec.Severity, plain(strings.Join(expected, ", ")))
	var held []string
	for _, r := range rec.HeldRoles() {
		held = append(held, plain(r.Name)+": "+plain(r.Person))
	}
	if len(held) > 0 {
		fmt.Fprintf(&b, "Held: %s.\n", strings.Join(held, "; "))
	}
	fmt.Fprintf(&b, "Assign them under Incident Roles on this page, so that everyone knows who leads and who keeps people informed. %s", marker)
	return b.String(), marker
}

// joinAnd lists names as people write them: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// NewRolesWorker returns the worker; without credentials it holds its
// jobs.
func NewRolesWorker(cfg config.PagerDuty, severities []config.Severity, s NoteStore, r Reporter, log *slog.Logger) *RolesWorker {
	return &RolesWorker{notes: newPageNotes(cfg, s, r, log), severities: severities}
}
