package jira

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Tracker is what filing needs of Jira.
type Tracker interface {
	Create(ctx context.Context, n NewTicket) (*incident.Ticket, error)
	FindByLabel(ctx context.Context, label string) (*incident.Ticket, error)
	Link(ctx context.Context, key, globalID, url, title string) error
}

// FollowUpStore reads follow-ups and their records, and records tickets.
type FollowUpStore interface {
	FollowUp(ctx context.Context, key string) (incident.FollowUp, error)
	Incident(ctx context.Context, id int64) (incident.Record, error)
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

// EnqueueFunc inserts a follow-on job in a transaction.
type EnqueueFunc func(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error

// FileWorker files each follow-up's Jira ticket exactly once.
//
// Jira has no idempotency key, so the worker makes its own: a label unique
// to the follow-up, written down before the first create. An attempt that
// follows one whose answer was lost (a timeout, a 5xx, a crash between
// Jira's 201 and the hub's commit) searches for that label before
// creating, after waiting out the lag of Jira's eventually consistent
// search.
type FileWorker struct {
	river.WorkerDefaults[actions.FileFollowUpArgs]

	tracker   Tracker // nil: held, for the reason in held
	held      string
	cfg       *config.Config
	store     FollowUpStore
	log       *slog.Logger
	enqueue   EnqueueFunc
	searchLag time.Duration
}

// FollowUpsHeld says why tickets cannot be filed with this configuration,
// or "" when they can.
func FollowUpsHeld(cfg config.Jira) string {
	switch {
	case cfg.BaseURL == "":
		return "jira.base_url is not set"
	case cfg.Email == "":
		return "jira.email is not set"
	case cfg.APIToken.Value() == "":
		return "jira.api_token is not set"
	}
	return ""
}

// NewFileWorker returns the worker; without credentials it holds its jobs
// (they wait, snoozed, and run once configured).
func NewFileWorker(cfg *config.Config, tracker Tracker, s FollowUpStore, log *slog.Logger) *FileWorker {
	w := &FileWorker{tracker: tracker, held: FollowUpsHeld(cfg.Jira), cfg: cfg, store: s,
		log: log.With("component", "jira-followups"), enqueue: actions.EnqueueFromJob,
		searchLag: cfg.Jira.SearchLag}
	if w.held != "" {
		w.tracker = nil
	}
	return w
}

// Work files the ticket unless it exists, then links it to the review doc.
func (w *FileWorker) Work(ctx context.Context, job *river.Job[actions.FileFollowUpArgs]) error {
	if w.tracker == nil {
		w.log.Warn("follow-up held", "followup", job.Args.FollowUpKey, "reason", w.held)
		return river.JobSnooze(actions.HeldRecheck)
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
			w.log.Warn("follow-up held", "followup", f.Key, "incident", rec.Ref(),
				"reason", fmt.Sprintf("service %q has no jira_project", rec.Service))
			return river.JobSnooze(actions.HeldRecheck)
		}
		if err := w.file(ctx, &f, &rec, svc); err != nil {
			return classify(err)
		}
	}
	if f.Linked || rec.ReviewDoc == "" {
		return nil
	}
	if err := w.tracker.Link(ctx, f.JiraKey, "incidenthub:"+rec.Ref()+":review", rec.ReviewDoc,
		escape.JiraSummary(rec.Ref()+" incident review: "+rec.Title)); err != nil {
		return classify(err)
	}
	return w.record(ctx, f.Key, func(_ *store.Tx, fresh *incident.FollowUp) error {
		fresh.Linked = true
		return nil
	})
}

// file finds the ticket an earlier attempt may have created, or creates it.
func (w *FileWorker) file(ctx context.Context, f *incident.FollowUp, rec *incident.Record, svc *config.Service) error {
	if f.TicketLabel != "" && !f.FilingSince.IsZero() {
		if wait := f.FilingSince.Add(w.searchLag).Sub(time.Now()); wait > 0 {
			w.log.Info("waiting for Jira's search to catch up before looking for the ticket",
				"followup", f.Key, "wait", wait.Round(time.Second))
			return river.JobSnooze(wait)
		}
		found, err := w.tracker.FindByLabel(ctx, f.TicketLabel)
		if err != nil {
			return err
		}
		if found != nil {
			w.log.Info("adopting the ticket an earlier attempt filed", "followup", f.Key, "ticket", found.Key)
			return w.filed(ctx, f, found)
		}
	}
	// Write the intent down before Jira can act on it.
	label, since := f.TicketLabel, time.Now().UTC()
	if label == "" {
		label = newTicketLabel()
	}
	already := false
	err := w.record(ctx, f.Key, func(_ *store.Tx, fresh *incident.FollowUp) error {
		if already = fresh.Filed(); !already {
			if fresh.TicketLabel == "" {
				fresh.TicketLabel = label
			}
			fresh.FilingSince = since
		}
		*f = *fresh
		return nil
	})
	if err != nil || already {
		return err
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
		return err
	}
	return w.filed(ctx, f, ticket)
}

// filed records the ticket, unless its webhook got there first, and asks
// for the review doc's refresh and the confirming reply.
func (w *FileWorker) filed(ctx context.Context, f *incident.FollowUp, t *incident.Ticket) error {
	return w.record(ctx, f.Key, func(tx *store.Tx, fresh *incident.FollowUp) error {
		defer func() { *f = *fresh }()
		if fresh.Filed() {
			return nil
		}
		fresh.JiraID, fresh.JiraKey, fresh.JiraURL = t.ID, t.Key, t.URL
		if t.Status != "" {
			// Found by search, the ticket may have moved on already.
			fresh.JiraStatus, fresh.Status = t.Status, incident.FollowUpStatusOf(t)
		}
		rec, err := tx.RecordByID(fresh.IncidentID)
		if err != nil {
			return err
		}
		if err := tx.AddEntries(rec.ID, []incident.TimelineEntry{incident.FiledEntry(fresh, time.Now().UTC(), "incidenthub")}); err != nil {
			return err
		}
		for _, a := range incident.FiledActions(rec, fresh) {
			if err := w.enqueue(ctx, tx.SQL(), fresh.IncidentID, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// record changes the stored follow-up in one transaction, from its
// current state.
func (w *FileWorker) record(ctx context.Context, key string, change func(*store.Tx, *incident.FollowUp) error) error {
	return w.store.Update(ctx, func(tx *store.Tx) error {
		fresh, err := tx.FollowUpByKey(key)
		if err != nil {
			return err
		}
		if err := change(tx, fresh); err != nil {
			return err
		}
		return tx.SaveFollowUp(fresh)
	})
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
	account := w.cfg.JiraAccount(f.Owner)
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

// newTicketLabel returns a label no other ticket carries.
func newTicketLabel() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "incidenthub-" + hex.EncodeToString(b)
}

// classify turns a Jira failure into what River should do: wait out a rate
// limit without spending an attempt, stop on a final 4xx keeping Jira's
// words (a dead letter for `actions retry` once fixed), and retry with
// backoff anything else, which may have created the ticket: the next
// attempt looks for it first.
func classify(err error) error {
	var je *Error
	if !errors.As(err, &je) {
		return err
	}
	if wait, limited := httpclient.RateLimited(&http.Response{StatusCode: je.StatusCode, Header: je.Header}, time.Now()); limited {
		return actions.RateLimitSnooze(wait)
	}
	if je.StatusCode >= 400 && je.StatusCode < 500 && je.StatusCode != http.StatusRequestTimeout {
		return river.JobCancel(err)
	}
	return err
}
