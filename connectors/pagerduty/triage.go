package pagerduty

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// TriageNoteArgs adds the triage note to one page.
type TriageNoteArgs struct {
	IncidentID int64  `json:"incident_id"`
	PageID     string `json:"page_id"`
}

// Kind implements river.JobArgs.
func (TriageNoteArgs) Kind() string { return "pagerduty.triage_note" }

// InsertOpts: one triage note job per page at a time.
func (TriageNoteArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// TriageWorker adds to a page, once, what the responder checks first:
// the service's changes before the page, an announced risky change it
// came during, the playbook, and where the record is.
type TriageWorker struct {
	river.WorkerDefaults[TriageNoteArgs]
	notes    *pageNotes
	lookback time.Duration
	services []config.Service
}

// Work adds the note unless the page already has it, and reports it.
func (w *TriageWorker) Work(ctx context.Context, job *river.Job[TriageNoteArgs]) error {
	return w.notes.write(ctx, job.Args.IncidentID, job.Args.PageID, func(_ context.Context, rec *incident.Record) (*pageNote, error) {
		page, ok := rec.Page(job.Args.PageID)
		if !ok {
			return nil, river.JobCancel(fmt.Errorf("%s holds no page %s", rec.Ref(), job.Args.PageID))
		}
		playbook := ""
		for _, s := range w.services {
			if s.Name == rec.Service {
				playbook = s.Playbook
			}
		}
		content, marker := TriageNote(rec, &page, w.lookback, playbook)
		return &pageNote{content: content, marker: marker, about: []string{"triage"}}, nil
	})
}

// Triage note bounds: PagerDuty takes notes of up to 25,000 characters;
// a note a responder reads at 3 a.m. is far shorter.
const (
	triageChanges   = 10
	triageLineChars = 300
)

// plain is text from a payload as a note shows it: one line, clipped
// (before escaping, so that no escape is cut in half), and kept from
// mentioning or referencing anyone.
func plain(s string) string { return escape.Title(escape.Truncate(s, triageLineChars)) }

// TriageNote is the note's text and the marker that finds it again.
// Everything in it that came from a payload is made one line, clipped,
// and kept from mentioning or referencing anyone.
func TriageNote(rec *incident.Record, page *incident.Page, lookback time.Duration, playbook string) (content, marker string) {
	marker = "[incidenthub " + rec.Ref() + " triage]"
	start := page.TriggeredAt
	var recent []incident.Change
	for _, c := range rec.Changes {
		if !c.At.After(start) && !c.At.Before(start.Add(-lookback)) {
			recent = append(recent, c)
		}
	}
	slices.SortStableFunc(recent, func(a, b incident.Change) int { return b.At.Compare(a.At) })

	var b strings.Builder
	fmt.Fprintf(&b, "incidenthub %s on %s (%s)\n", rec.Ref(), plain(rec.Service), rec.Severity)
	if len(recent) == 0 {
		fmt.Fprintf(&b, "No deploys, merges or releases of %s in the %s before this page.\n", plain(rec.Service), incident.ShortDuration(lookback))
	} else {
		fmt.Fprintf(&b, "Changes to %s in the %s before this page, newest first:\n", plain(rec.Service), incident.ShortDuration(lookback))
		for i, c := range recent {
			if i == triageChanges {
				fmt.Fprintf(&b, "- and %d more: incidenthub changes list --service %s\n", len(recent)-i, plain(rec.Service))
				break
			}
			fmt.Fprintf(&b, "- %s before: %s", incident.ShortDuration(start.Sub(c.At)), plain(c.Summary()))
			if u := escape.URL(c.URL); u != "" {
				b.WriteString(" " + u)
			}
			b.WriteString("\n")
		}
	}
	if rec.Cause != "" {
		for _, c := range rec.Changes {
			if c.Key == rec.Cause {
				fmt.Fprintf(&b, "This page came during an announced risky change: %s\n", plain(c.Summary()))
			}
		}
	}
	if u := escape.URL(playbook); u != "" {
		fmt.Fprintf(&b, "Playbook: %s\n", u)
	} else {
		fmt.Fprintf(&b, "No playbook is configured for %s.\n", plain(rec.Service))
	}
	fmt.Fprintf(&b, "The record: incidenthub incidents show %s (GET /api/v1/incidents/%s)\n%s", rec.Ref(), rec.Ref(), marker)
	return b.String(), marker
}

// LiveChangeNoteArgs tells one page of one change.
type LiveChangeNoteArgs struct {
	IncidentID int64  `json:"incident_id"`
	PageID     string `json:"page_id"`
	ChangeKey  string `json:"change_key"`
}

// Kind implements river.JobArgs.
func (LiveChangeNoteArgs) Kind() string { return "pagerduty.live_change_note" }

// InsertOpts: one job per page and change at a time.
func (LiveChangeNoteArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// LiveChangeWorker adds to a page, once, a short note of a change that
// landed on its service while its incident is open.
type LiveChangeWorker struct {
	river.WorkerDefaults[LiveChangeNoteArgs]
	notes *pageNotes
}

// Work adds the note unless the page already has it, and reports it. A
// change taken off the record since (a resolve before it, decided later)
// is no longer news: nothing is written.
func (w *LiveChangeWorker) Work(ctx context.Context, job *river.Job[LiveChangeNoteArgs]) error {
	return w.notes.write(ctx, job.Args.IncidentID, job.Args.PageID, func(_ context.Context, rec *incident.Record) (*pageNote, error) {
		i := slices.IndexFunc(rec.Changes, func(c incident.Change) bool { return c.Key == job.Args.ChangeKey })
		if i < 0 {
			w.notes.log.Info("change no longer on the record: no note", "incident", rec.Ref(), "change", job.Args.ChangeKey)
			return nil, nil
		}
		content, marker := LiveChangeNote(rec, &rec.Changes[i])
		return &pageNote{content: content, marker: marker, about: []string{"change", job.Args.ChangeKey}}, nil
	})
}

// LiveChangeNote is a change's note and the marker that finds it again.
func LiveChangeNote(rec *incident.Record, c *incident.Change) (content, marker string) {
	marker = "[incidenthub " + rec.Ref() + " change " + c.Key + "]"
	var b strings.Builder
	fmt.Fprintf(&b, "incidenthub %s: a change to %s while this incident is open, %s after it opened: %s",
		rec.Ref(), plain(rec.Service), incident.ShortDuration(c.At.Sub(rec.OpenedAt)), plain(c.Summary()))
	if u := escape.URL(c.URL); u != "" {
		b.WriteString(" " + u)
	}
	b.WriteString(" " + marker)
	return b.String(), marker
}
