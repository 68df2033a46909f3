package jira

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Tracker is what filing needs of Jira.
type Tracker interface {
	Create(ctx context.Context, n NewTicket) (*incident.Ticket, error)
	FindByLabel(ctx context.Context, label string) (*incident.Ticket, error)
	Link(ctx context.Context, key, globalID, url, title string) error
}

// FollowUpStore reads follow-ups and their records.
type FollowUpStore interface {
	FollowUp(ctx context.Context, key string) (incident.FollowUp, error)
	Incident(ctx context.Context, id int64) (incident.Record, error)
}

// Filing is the configuration tickets are filed by.
type Filing struct {
	Jira     config.Jira
	Services []config.Service
	People   config.People
}

// filingRecheck is how soon a job that reported filing begins looks
// again: the router decides on the report within moments.
const filingRecheck = time.Second

// FileWorker files each follow-up's Jira ticket exactly once.
//
// Jira has no idempotency key, so the follow-up carries its own: a label
// unique to it (incident.TicketLabelFor). The worker reports that filing
// begins and waits for the router to record it, so that from then on an
// edit of the review doc no longer withdraws the item. An attempt that
// follows one whose answer was lost (a timeout, a 5xx, a crash between
// Jira's 201 and the report) first finds a report of the ticket, or
// searches for the label, after waiting out the lag of Jira's eventually
// consistent search, before it creates one.
type FileWorker struct {
	river.WorkerDefaults[FileFollowUpArgs]

	tracker   Tracker // nil: held, for the reason in held
	held      string
	cfg       Filing
	store     FollowUpStore
	report    Reporter
	log       *slog.Logger
	searchLag time.Duration
	now       func() time.Time
}

// NewFileWorker returns the worker; without a tracker it holds its jobs
// (they wait, snoozed, and run once configured).
func NewFileWorker(cfg Filing, tracker Tracker, s FollowUpStore, r Reporter, log *slog.Logger) *FileWorker {
	w := &FileWorker{tracker: tracker, held: FollowUpsHeld(cfg.Jira), cfg: cfg, store: s, report: r,
		log: log.With("component", "jira-followups"), searchLag: cfg.Jira.SearchLag, now: time.Now}
	if tracker == nil && w.held == "" {
		w.held = "jira is not configured"
	}
	if w.held != "" {
		w.tracker = nil
	}
	return w
}

// Work files the ticket unless it exists, then links it to the review doc.
func (w *FileWorker) Work(ctx context.Context, job *river.Job[FileFollowUpArgs]) error {
	if w.tracker == nil {
		return actions.Hold(ctx, w.log, w.held, "followup", job.Args.FollowUpKey)
	}
	f, err := w.store.FollowUp(ctx, job.Args.FollowUpKey)
	if errors.Is(err, store.ErrNotFound) {
		w.log.Info("follow-up withdrawn before filing", "followup", job.Args.FollowUpKey)
		return nil
	}
	if err != nil {
		return err
	}
	rec, err := w.store.Incident(ctx, f.IncidentID)
	if err != nil {
		return err
	}
	if !f.Filed() {
		svc := w.service(rec.Service)
		if svc == nil || svc.JiraProject == "" {
			reason := fmt.Sprintf("service %q has no jira_project", rec.Service)
			return actions.Hold(ctx, w.log, reason, "followup", f.Key, "incident", rec.Ref())
		}
		t, err := w.file(ctx, job, &f, &rec, svc)
		if err != nil {
			return classify(ctx, err)
		}
		f.JiraID, f.JiraKey = t.ID, t.Key
	}
	if f.Linked || rec.ReviewDoc == "" {
		return nil
	}
	if err := w.tracker.Link(ctx, f.JiraKey, "incidenthub:"+rec.Ref()+":review", rec.ReviewDoc,
		escape.JiraSummary(rec.Ref()+" incident review: "+rec.Title)); err != nil {
		return classify(ctx, err)
	}
	return w.report.Report(ctx, hubevent.Report{Key: hubevent.FollowUpKey(incident.EventFollowUpLinked, &f), Type: incident.EventFollowUpLinked,
		At: w.now().UTC(), IncidentID: rec.ID, FollowUpKey: f.Key})
}

// file finds the ticket an earlier attempt may have created, or creates
// it, and reports it.
func (w *FileWorker) file(ctx context.Context, job *river.Job[FileFollowUpArgs], f *incident.FollowUp,
	rec *incident.Record, svc *config.Service) (*incident.Ticket, error) {
	if r, ok, err := w.report.Reported(ctx, hubevent.FollowUpKey(incident.EventFollowUpFiled, f)); err != nil {
		return nil, err
	} else if ok && r.Ticket != nil {
		return r.Ticket, nil // filed and reported; the router records it
	}
	if f.FilingSince.IsZero() || f.TicketLabel == "" {
		// Say that filing begins, and wait for the router to record it:
		// an edit of the review doc delivered before that still withdraws
		// a task-list item; one delivered after no longer does.
		if err := w.report.Report(ctx, hubevent.Report{Key: hubevent.FollowUpKey(incident.EventFollowUpFiling, f), Type: incident.EventFollowUpFiling,
			At: w.now().UTC(), IncidentID: rec.ID, FollowUpKey: f.Key}); err != nil {
			return nil, err
		}
		return nil, river.JobSnooze(filingRecheck)
	}
	creating := hubevent.FollowUpKey(incident.EventFollowUpCreating, f)
	if before, again, err := w.report.Reported(ctx, creating); err != nil {
		return nil, err
	} else if again {
		// An earlier attempt asked Jira to create the ticket and may have
		// lost the answer (a timeout, a 5xx, a rate limit answered after
		// the effect, a crash): look for it once Jira's search has caught
		// up with that attempt, or with the job's last failure if later.
		if wait := latest(before.At, lastFailure(job)).Add(w.searchLag).Sub(w.now()); wait > 0 {
			w.log.Info("waiting for Jira's search to catch up before looking for the ticket",
				"followup", f.Key, "wait", wait.Round(time.Second))
			return nil, river.JobSnooze(wait)
		}
		found, err := w.tracker.FindByLabel(ctx, f.TicketLabel)
		if err != nil {
			return nil, err
		}
		if found != nil {
			w.log.Info("adopting the ticket an earlier attempt filed", "followup", f.Key, "ticket", found.Key)
			return found, w.filed(ctx, f, found)
		}
	} else if err := w.report.Report(ctx, hubevent.Report{Key: creating, Type: incident.EventFollowUpCreating,
		At: w.now().UTC(), IncidentID: rec.ID, FollowUpKey: f.Key}); err != nil {
		// Written down before Jira can act on it, durably, on any replica.
		return nil, err
	}
	ticket, err := w.tracker.Create(ctx, w.ticket(f, rec, svc, ""))
	var refused *Error
	if errors.As(err, &refused) && refused.StatusCode == http.StatusBadRequest && (f.Priority != "" || f.IssueType != "" || f.Owner != "") {
		// A 400 created nothing. A priority, type or assignee the project
		// does not have should not stop the follow-up: file it plainly and
		// say what Jira refused.
		w.log.Warn("Jira refused the follow-up's options; filing it without them", "followup", f.Key, "err", err)
		plain := *f
		plain.Priority, plain.IssueType, plain.Owner = "", "", ""
		ticket, err = w.tracker.Create(ctx, w.ticket(&plain, rec, svc, refused.Error()))
	}
	if err != nil {
		return nil, err
	}
	return ticket, w.filed(ctx, f, ticket)
}

// lastFailure is when the job last failed (a rescued job counts): after
// any create an attempt made.
func lastFailure(job *river.Job[FileFollowUpArgs]) time.Time {
	if n := len(job.Errors); n > 0 {
		return job.Errors[n-1].At
	}
	return time.Time{}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// filed reports the ticket; the router records it, unless its webhook got
// there first, and asks for the doc's refresh and the confirming reply.
func (w *FileWorker) filed(ctx context.Context, f *incident.FollowUp, t *incident.Ticket) error {
	return w.report.Report(ctx, hubevent.Report{Key: hubevent.FollowUpKey(incident.EventFollowUpFiled, f), Type: incident.EventFollowUpFiled, At: w.now().UTC(),
		IncidentID: f.IncidentID, FollowUpKey: f.Key, URL: t.URL, Ticket: t})
}

// ticket is what the hub files: a summary people recognise, a description
// that links the review doc and the pages, and the labels that tie it to
// the incident (inc-12) and to this follow-up (its unique label).
func (w *FileWorker) ticket(f *incident.FollowUp, rec *incident.Record, svc *config.Service, refusal string) NewTicket {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nA follow-up from the review of %s: %s (%s on %s).\n\n", escape.JiraWiki(f.Title), rec.Ref(),
		escape.JiraWiki(rec.Title), escape.JiraWiki(rec.Severity), escape.JiraWiki(rec.Service))
	fmt.Fprintf(&b, "* Review doc: %s\n", jiraLink(rec.Ref()+" review", rec.ReviewDoc))
	for _, p := range rec.Pages {
		label := p.Title
		if p.Number > 0 {
			label = fmt.Sprintf("#%d %s", p.Number, p.Title)
		}
		fmt.Fprintf(&b, "* PagerDuty: %s\n", jiraLink(label, p.URL))
	}
	if f.RequestedBy != "" {
		fmt.Fprintf(&b, "* Asked for by %s on GitHub: %s\n", escape.JiraWiki(f.RequestedBy), jiraLink("the request", f.Origin))
	}
	account := w.cfg.People.JiraAccount(f.Owner)
	if f.Owner != "" && account == "" {
		fmt.Fprintf(&b, "* Owner: GitHub user %s (no Jira account is configured for them)\n", escape.JiraWiki(f.Owner))
	}
	if refusal != "" {
		fmt.Fprintf(&b, "\nFiled without the priority, type or owner asked for, which Jira refused: %s\n", escape.JiraWiki(refusal))
	}
	b.WriteString("\nFiled by incidenthub. The status of this ticket shows in the review doc's Follow-ups.")
	issueType := f.IssueType
	if issueType == "" {
		issueType = svc.JiraIssueType
	}
	return NewTicket{
		Project: svc.JiraProject, IssueType: issueType, Summary: escape.JiraSummary(f.Title), Description: b.String(),
		Labels: []string{"incidenthub", rec.Label(), f.TicketLabel}, Priority: f.Priority, AssigneeAccountID: account,
	}
}

// jiraLink renders [text|url] when the URL is a safe http(s) one.
func jiraLink(text, url string) string {
	if u := escape.URL(url); u != "" {
		return "[" + escape.JiraWiki(text) + "|" + u + "]"
	}
	return escape.JiraWiki(text)
}

func (w *FileWorker) service(name string) *config.Service {
	for i := range w.cfg.Services {
		if w.cfg.Services[i].Name == name {
			return &w.cfg.Services[i]
		}
	}
	return nil
}
