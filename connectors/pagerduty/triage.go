package pagerduty

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
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

	client   *pd.Client // nil: held
	held     string
	from     string
	lookback time.Duration
	services []config.Service
	store    NoteStore
	report   Reporter
	log      *slog.Logger
	now      func() time.Time
}

// NewTriageWorker returns the worker; without credentials it holds its
// jobs.
func NewTriageWorker(cfg config.PagerDuty, lookback time.Duration, services []config.Service, s NoteStore, r Reporter, log *slog.Logger) *TriageWorker {
	w := &TriageWorker{held: NotesHeld(cfg), from: cfg.FromEmail, lookback: lookback, services: services, store: s, report: r,
		log: log.With("component", "pagerduty-triage"), now: time.Now}
	if w.held == "" {
		w.client = NewClient(cfg, httpclient.New(httpclient.Options{Logger: log}))
	}
	return w
}

// Work adds the note unless the page already has it, and reports it.
func (w *TriageWorker) Work(ctx context.Context, job *river.Job[TriageNoteArgs]) error {
	if !pagerDutyID.MatchString(job.Args.PageID) {
		return river.JobCancel(fmt.Errorf("%q is not a PagerDuty incident id", job.Args.PageID))
	}
	if w.client == nil {
		return actions.Hold(ctx, w.held)
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	page, ok := rec.Page(job.Args.PageID)
	if !ok {
		return river.JobCancel(fmt.Errorf("%s holds no page %s", rec.Ref(), job.Args.PageID))
	}
	playbook := ""
	for _, s := range w.services {
		if s.Name == rec.Service {
			playbook = s.Playbook
		}
	}
	content, marker := TriageNote(&rec, page, w.lookback, playbook)
	ctx, last := httpclient.WithLastResponse(ctx)
	err = addNote(ctx, w.client, w.from, job.Args.PageID, content, marker)
	if err == nil {
		err = w.report.Report(ctx, hubevent.Report{Key: hubevent.RecordKey(incident.EventNoteAdded, rec.ID, job.Args.PageID, "triage"),
			Type: incident.EventNoteAdded, At: w.now().UTC(), IncidentID: rec.ID, PageID: job.Args.PageID})
	}
	return classify(ctx, err, last)
}

// Triage note bounds: PagerDuty takes notes of up to 25,000 characters;
// a note a responder reads at 3 a.m. is far shorter.
const (
	triageChanges   = 10
	triageLineChars = 300
)

// TriageNote is the note's text and the marker that finds it again.
// Everything in it that came from a payload is made one line, clipped,
// and kept from mentioning or referencing anyone.
func TriageNote(rec *incident.Record, page *incident.Page, lookback time.Duration, playbook string) (content, marker string) {
	marker = "[incidenthub " + rec.Ref() + " triage]"
	plain := func(s string) string { return escape.Title(escape.Truncate(s, triageLineChars)) }
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
		fmt.Fprintf(&b, "No deploys, merges or releases of %s in the %s before this page.\n", plain(rec.Service), human(lookback))
	} else {
		fmt.Fprintf(&b, "Changes to %s in the %s before this page, newest first:\n", plain(rec.Service), human(lookback))
		for i, c := range recent {
			if i == triageChanges {
				fmt.Fprintf(&b, "- and %d more: incidenthub changes list --service %s\n", len(recent)-i, plain(rec.Service))
				break
			}
			fmt.Fprintf(&b, "- %s before: %s", human(start.Sub(c.At)), plain(c.Summary()))
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

// human renders a duration as people say it: 45s, 12m, 2h, 1h30m.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
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
	notes *TriageWorker // the same client, store and reporter
}

// NewLiveChangeWorker returns the worker, sharing the triage worker's
// client; without credentials it holds its jobs.
func NewLiveChangeWorker(t *TriageWorker) *LiveChangeWorker { return &LiveChangeWorker{notes: t} }

// Work adds the note unless the page already has it, and reports it. A
// change taken off the record since (a resolve before it, decided later)
// is no longer news: nothing is written.
func (w *LiveChangeWorker) Work(ctx context.Context, job *river.Job[LiveChangeNoteArgs]) error {
	t := w.notes
	if !pagerDutyID.MatchString(job.Args.PageID) {
		return river.JobCancel(fmt.Errorf("%q is not a PagerDuty incident id", job.Args.PageID))
	}
	if t.client == nil {
		return actions.Hold(ctx, t.held)
	}
	rec, err := t.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rec.Changes, func(c incident.Change) bool { return c.Key == job.Args.ChangeKey })
	if i < 0 {
		t.log.Info("change no longer on the record: no note", "incident", rec.Ref(), "change", job.Args.ChangeKey)
		return nil
	}
	content, marker := LiveChangeNote(&rec, &rec.Changes[i])
	ctx, last := httpclient.WithLastResponse(ctx)
	err = addNote(ctx, t.client, t.from, job.Args.PageID, content, marker)
	if err == nil {
		err = t.report.Report(ctx, hubevent.Report{
			Key:  hubevent.RecordKey(incident.EventNoteAdded, rec.ID, job.Args.PageID, "change", job.Args.ChangeKey),
			Type: incident.EventNoteAdded, At: t.now().UTC(), IncidentID: rec.ID, PageID: job.Args.PageID})
	}
	return classify(ctx, err, last)
}

// LiveChangeNote is a change's note and the marker that finds it again.
func LiveChangeNote(rec *incident.Record, c *incident.Change) (content, marker string) {
	marker = "[incidenthub " + rec.Ref() + " change " + c.Key + "]"
	plain := func(s string) string { return escape.Title(escape.Truncate(s, triageLineChars)) }
	var b strings.Builder
	fmt.Fprintf(&b, "incidenthub %s: a change to %s while this incident is open, %s after it opened: %s",
		rec.Ref(), plain(rec.Service), human(c.At.Sub(rec.OpenedAt)), plain(c.Summary()))
	if u := escape.URL(c.URL); u != "" {
		b.WriteString(" " + u)
	}
	b.WriteString(" " + marker)
	return b.String(), marker
}
