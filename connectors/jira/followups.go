package jira

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	CreateFields(ctx context.Context, project, issueType string) ([]FieldMeta, []string, error)
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
	// Drills: a drill's follow-ups go to their own project, or nowhere.
	Drills config.Drills
}

// drillsHeld is why a drill's follow-up waits: drills never touch a
// team's Jira project, and have none of their own.
const drillsHeld = "a drill's follow-ups stay out of the team's Jira project unless drills.jira_project is set"

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
	screens   screens
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
		if rec.Kind == incident.KindDrill {
			if w.cfg.Drills.JiraProject == "" {
				// The same reason for every drill: it labels the held-jobs
				// gauge, whose series must stay few.
				return actions.Hold(ctx, w.log, drillsHeld, "followup", f.Key, "incident", rec.Ref())
			}
			// Only the project: the team's own fields and defaults are
			// the team project's.
			svc = &config.Service{Name: rec.Service, JiraProject: w.cfg.Drills.JiraProject, JiraIssueType: config.DefaultJiraIssueType}
		}
		if svc == nil || svc.JiraProject == "" {
			reason := fmt.Sprintf("service %q has no jira_project", rec.Service)
			return actions.Hold(ctx, w.log, reason, "followup", f.Key, "incident", rec.Ref())
		}
		t, err := w.file(ctx, job, &f, &rec, svc)
		var held *heldError
		if errors.As(err, &held) {
			return actions.Hold(ctx, w.log, held.reason, "followup", f.Key, "incident", rec.Ref())
		}
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
	before, again, err := w.report.Reported(ctx, creating)
	if err != nil {
		return nil, err
	}
	if again {
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
	}
	// What the project requires is checked before anything is written
	// down, so that a held job's rechecks neither report nor search.
	n, err := w.checked(ctx, f, rec, svc)
	if err != nil {
		return nil, err
	}
	if !again {
		// Written down before Jira can act on it, durably, on any replica.
		if err := w.report.Report(ctx, hubevent.Report{Key: creating, Type: incident.EventFollowUpCreating,
			At: w.now().UTC(), IncidentID: rec.ID, FollowUpKey: f.Key}); err != nil {
			return nil, err
		}
	}
	ticket, err := w.tracker.Create(ctx, n)
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
	if errors.As(err, &refused) && refused.StatusCode == http.StatusBadRequest && configurable(refused.Fields) {
		// Refused for a field the configuration sets: no retry can fix
		// that, a change of configuration can. Held, saying which field
		// and which key to set.
		w.screens.forget(n.Project, n.IssueType)
		return nil, &heldError{reason: w.refusedFields(refused, n.Project, svc)}
	}
	if err != nil {
		return nil, err
	}
	return ticket, w.filed(ctx, f, ticket)
}

// heldError is a ticket the configuration does not let the hub file: the
// job is held with the reason.
type heldError struct{ reason string }

func (e *heldError) Error() string { return e.reason }

// checked is the ticket to file, once the project's create screen says
// it can be filed: a required field without a value in jira_fields, or an
// issue type the project lacks, holds it with the config key to set. A
// follow-up's own issue type the project lacks is dropped, as Jira's
// refusal of it would be.
func (w *FileWorker) checked(ctx context.Context, f *incident.FollowUp, rec *incident.Record, svc *config.Service) (NewTicket, error) {
	n := w.ticket(f, rec, svc, "")
	fields, types, err := w.screens.read(ctx, w.tracker, n.Project, n.IssueType, w.now())
	if errors.Is(err, ErrNoIssueType) && f.IssueType != "" {
		plain := *f
		plain.IssueType = ""
		n = w.ticket(&plain, rec, svc, "the project has no issue type "+f.IssueType)
		fields, types, err = w.screens.read(ctx, w.tracker, n.Project, n.IssueType, w.now())
	}
	var je *Error
	switch {
	case errors.Is(err, ErrNoIssueType):
		return n, &heldError{reason: fmt.Sprintf("Jira project %s has no issue type %q (it has %s): %s",
			n.Project, n.IssueType, strings.Join(types, ", "), w.advice(svc, "set", "jira_issue_type"))}
	case errors.Is(err, ErrNoProject):
		return n, &heldError{reason: fmt.Sprintf("Jira has no project %s that this account can see: %s",
			n.Project, w.advice(svc, "check", "jira_project"))}
	case errors.As(err, &je) && je.StatusCode != http.StatusTooManyRequests && je.StatusCode < 500:
		// Jira would not say (a permission the create may not need, an
		// older server): the create itself gives the answer.
		w.log.Warn("Jira's create metadata could not be read; filing without checking the required fields",
			"project", n.Project, "err", err)
		return n, nil
	case err != nil:
		return n, err
	}
	var missing []string
	given := maps.Clone(n.Fields)
	if given == nil {
		given = map[string]any{}
	}
	if n.Priority != "" {
		given["priority"] = n.Priority
	}
	if n.Assignee != "" {
		given["assignee"] = n.Assignee
	}
	for _, fm := range MissingFields(fields, given) {
		missing = append(missing, fmt.Sprintf("%s (%s): %s", fm.Name, fm.ID, w.advice(svc, "set", configKey(fm.ID))))
	}
	if len(missing) > 0 {
		return n, &heldError{reason: fmt.Sprintf("Jira project %s requires fields the hub has no value for, for a %s: %s",
			n.Project, n.IssueType, strings.Join(missing, "; "))}
	}
	return n, nil
}

// MissingFields are the fields of a create screen a ticket must have and
// that nothing gives: required, without a default, not among those the
// hub always sets, and not given (the service's jira_fields, and the
// follow-up's priority and assignee when it has them).
func MissingFields(screen []FieldMeta, given map[string]any) []FieldMeta {
	var out []FieldMeta
	for _, fm := range screen {
		if _, ok := given[fm.ID]; !ok && fm.Required && !fm.HasDefaultValue && !slices.Contains(config.HubJiraFields, fm.ID) {
			out = append(out, fm)
		}
	}
	return out
}

// configKey is the key of a service's configuration that sets a ticket
// field, or "" for a field the hub fills from the follow-up itself.
func configKey(field string) string {
	switch {
	case field == "project":
		return "jira_project"
	case field == "issuetype":
		return "jira_issue_type"
	case slices.Contains(config.HubJiraFields, field):
		return ""
	}
	return "jira_fields." + field
}

// configurable reports whether every field Jira refused is one the
// configuration sets; a refusal of what the hub writes itself stays a
// final failure, loud.
func configurable(fields map[string]string) bool {
	for id := range fields {
		if configKey(id) == "" {
			return false
		}
	}
	return len(fields) > 0
}

// refusedFields says which fields Jira refused a ticket for, and which
// config key sets each.
func (w *FileWorker) refusedFields(e *Error, project string, svc *config.Service) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", id, e.Fields[id], w.advice(svc, "set", configKey(id))))
	}
	return fmt.Sprintf("Jira refused the ticket in %s: %s", project, strings.Join(parts, "; "))
}

// screenTTL is how long a project's create screen is trusted: a field an
// administrator makes required shows within it (and a refusal for a
// field reads the screen again at once).
const screenTTL = 10 * time.Minute

// screens caches the create screens the worker read, by project and issue
// type.
type screens struct {
	mu sync.Mutex
	m  map[string]screen
}

type screen struct {
	fields []FieldMeta
	types  []string
	err    error // ErrNoIssueType, kept as an answer
	at     time.Time
}

func (c *screens) read(ctx context.Context, t Tracker, project, issueType string, now time.Time) ([]FieldMeta, []string, error) {
	key := project + "/" + strings.ToLower(issueType)
	c.mu.Lock()
	s, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(s.at) < screenTTL {
		return s.fields, s.types, s.err
	}
	fields, types, err := t.CreateFields(ctx, project, issueType)
	if err != nil && !errors.Is(err, ErrNoIssueType) {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]screen{}
	}
	c.m[key] = screen{fields: fields, types: types, err: err, at: now}
	return fields, types, err
}

func (c *screens) forget(project, issueType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, project+"/"+strings.ToLower(issueType))
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
	account := w.cfg.People.JiraUser(f.Owner, w.cfg.Jira.Flavor)
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
	// jira_fields may give a default priority or assignee; the
	// follow-up's own win.
	fields := maps.Clone(svc.JiraFields)
	if f.Priority != "" {
		delete(fields, "priority")
	}
	if account != "" {
		delete(fields, "assignee")
	}
	summary := f.Title
	if rec.Kind == incident.KindDrill {
		summary = incident.DrillTitle(summary) // marked wherever it shows
	}
	return NewTicket{
		Project: svc.JiraProject, IssueType: issueType, Summary: escape.JiraSummary(summary), Description: b.String(),
		Labels: []string{"incidenthub", rec.Label(), f.TicketLabel}, Priority: f.Priority, Assignee: account,
		Fields: fields,
	}
}

// jiraLink renders [text|url] when the URL is a safe http(s) one.
func jiraLink(text, url string) string {
	if u := escape.URL(url); u != "" {
		return "[" + escape.JiraWiki(text) + "|" + u + "]"
	}
	return escape.JiraWiki(text)
}

// advice says which configuration key to act on ("set", "check") for
// what Jira asks of svc's tickets. A drill's follow-ups are Tasks with
// nothing set but the project (drills.jira_project): only that can change.
func (w *FileWorker) advice(svc *config.Service, verb, key string) string {
	for i := range w.cfg.Services {
		if &w.cfg.Services[i] == svc {
			return fmt.Sprintf("%s services[%d].%s", verb, i, key)
		}
	}
	if key == "jira_project" {
		return verb + " drills.jira_project"
	}
	return "drills' follow-ups are filed as Tasks with no fields set: choose a drills.jira_project whose Tasks need none"
}

func (w *FileWorker) service(name string) *config.Service {
	for i := range w.cfg.Services {
		if w.cfg.Services[i].Name == name {
			return &w.cfg.Services[i]
		}
	}
	return nil
}
