package github

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/router"
)

// Issue is what the hub needs of a GitHub issue.
type Issue struct {
	Number int
	URL    string
	Body   string
	// CreatedAt is when GitHub created it.
	CreatedAt time.Time
}

// Issues reads and writes the issues (and pull request comments) of one
// repository.
type Issues struct {
	client      *gh.Client
	owner, repo string
	gate        *WriteGate
}

// WriteGate keeps a token's writes serial and at least writeSpacing
// apart, as GitHub asks of integrations; share one per token.
type WriteGate struct {
	mu    sync.Mutex
	last  time.Time
	sleep func(context.Context, time.Duration)
}

// NewWriteGate returns a gate.
func NewWriteGate() *WriteGate { return &WriteGate{sleep: sleepCtx} }

// NewIssues returns the adapter for "owner/name", writing through gate.
func NewIssues(client *gh.Client, repo string, gate *WriteGate) *Issues {
	owner, name, _ := strings.Cut(repo, "/")
	return &Issues{client: client, owner: owner, repo: name, gate: gate}
}

// write runs a mutating call through the token's gate.
func (i *Issues) write(ctx context.Context, call func() error) error { return i.gate.do(ctx, call) }

// do runs a write no sooner than writeSpacing after the last one.
func (g *WriteGate) do(ctx context.Context, call func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if wait := writeSpacing - time.Since(g.last); wait > 0 {
		g.sleep(ctx, wait)
	}
	defer func() { g.last = time.Now() }()
	return call()
}

// FindByLabel returns the issue carrying the label, open or closed, if
// any. Listing by label is consistent; search would lag behind a create.
func (i *Issues) FindByLabel(ctx context.Context, label string) (*Issue, error) {
	found, _, err := i.client.Issues.ListByRepo(ctx, i.owner, i.repo, &gh.IssueListByRepoOptions{
		Labels: []string{label}, State: "all", ListOptions: gh.ListOptions{PerPage: 10},
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return toIssue(found[0]), nil
}

// Create opens an issue.
func (i *Issues) Create(ctx context.Context, title, body string, labels, assignees []string) (*Issue, error) {
	req := &gh.IssueRequest{Title: &title, Body: &body, Labels: &labels}
	if len(assignees) > 0 {
		req.Assignees = &assignees
	}
	var created *gh.Issue
	err := i.write(ctx, func() (err error) {
		created, _, err = i.client.Issues.Create(ctx, i.owner, i.repo, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return toIssue(created), nil
}

// Get reads an issue.
func (i *Issues) Get(ctx context.Context, number int) (*Issue, error) {
	issue, _, err := i.client.Issues.Get(ctx, i.owner, i.repo, number)
	if err != nil {
		return nil, err
	}
	return toIssue(issue), nil
}

// EditBody replaces an issue's body.
func (i *Issues) EditBody(ctx context.Context, number int, body string) error {
	return i.write(ctx, func() error {
		_, _, err := i.client.Issues.Edit(ctx, i.owner, i.repo, number, &gh.IssueRequest{Body: &body})
		return err
	})
}

// maxCommentPages bounds how far the hub reads a busy thread looking for
// its own markers (3,000 comments).
const maxCommentPages = 30

// Comments returns the bodies of an issue's comments, every page of them,
// so that a marker posted after the first hundred is still found.
func (i *Issues) Comments(ctx context.Context, number int) ([]string, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var out []string
	for range maxCommentPages {
		cs, resp, err := i.client.Issues.ListComments(ctx, i.owner, i.repo, number, opts)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, c.GetBody())
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, fmt.Errorf("issue #%d has more than %d comments", number, maxCommentPages*100)
}

// Comment adds a comment.
func (i *Issues) Comment(ctx context.Context, number int, body string) error {
	return i.write(ctx, func() error {
		_, _, err := i.client.Issues.CreateComment(ctx, i.owner, i.repo, number, &gh.IssueComment{Body: &body})
		return err
	})
}

func toIssue(i *gh.Issue) *Issue {
	return &Issue{Number: i.GetNumber(), URL: i.GetHTMLURL(), Body: i.GetBody(), CreatedAt: i.GetCreatedAt().UTC()}
}

// ReviewStore is what the review jobs read.
type ReviewStore interface {
	Incident(ctx context.Context, id int64) (incident.Record, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]incident.Record, error)
	FollowUp(ctx context.Context, key string) (incident.FollowUp, error)
}

// ReviewIssues is what the review worker needs of GitHub.
type ReviewIssues interface {
	FindByLabel(ctx context.Context, label string) (*Issue, error)
	Create(ctx context.Context, title, body string, labels, assignees []string) (*Issue, error)
	Get(ctx context.Context, number int) (*Issue, error)
	EditBody(ctx context.Context, number int, body string) error
	Comments(ctx context.Context, number int) ([]string, error)
	Comment(ctx context.Context, number int, body string) error
}

// Docs is what review docs are written from: where they live and the
// configuration they quote.
type Docs struct {
	// Repo is github.review_repo (owner/name).
	Repo       string
	Lookback   time.Duration
	DueWithin  time.Duration
	Severities []config.Severity
	Services   []config.Service
	People     config.People
	// Rules are the router's, for records resolved before the router
	// recorded when their doc opens.
	Rules router.Rules
	// Template renders the docs: review.template, or the hub's own.
	Template *reviewdoc.Template
}

// ReviewWorker creates each incident's review doc once, and keeps its hub
// sections up to date. It decides nothing about the record: the router
// says when the doc is to open (Record.ReviewOpensAt), and the worker
// reports the doc it opened and the summary it posted.
type ReviewWorker struct {
	river.WorkerDefaults[ReviewDocArgs]

	issues ReviewIssues // nil: held, for the reason in held
	held   string
	docs   Docs
	// locks keeps one replica at a time writing an incident's doc; nil
	// when one process owns the database.
	locks  Exclusive
	store  ReviewStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewReviewWorker returns the worker; a nil issues holds its jobs (they
// wait, snoozed, and run once configured).
func NewReviewWorker(docs Docs, issues ReviewIssues, s ReviewStore, r Reporter, log *slog.Logger) *ReviewWorker {
	return &ReviewWorker{issues: issues, held: heldWithout, docs: docs, store: s, report: r, log: log.With("component", "review-doc"), now: time.Now}
}

// LabelOf is the label that finds an incident's review issue again.
func LabelOf(r *incident.Record) string { return "incidenthub:" + r.Ref() }

// openedKey is the report of a record's review doc.
func openedKey(rec *incident.Record) string {
	return hubevent.RecordKey(incident.EventReviewOpened, rec.ID)
}

// Exclusive runs work that must not run on two replicas at once.
type Exclusive interface {
	Exclusively(ctx context.Context, name string, fn func(context.Context) error) error
}

// Work creates or updates the review doc. Review doc jobs are not unique
// (see ReviewDocArgs), and every replica runs jobs: two could open or
// rewrite one incident's doc at once, so each takes the incident's lock.
func (w *ReviewWorker) Work(ctx context.Context, job *river.Job[ReviewDocArgs]) error {
	if w.issues == nil {
		return actions.Hold(ctx, w.log, w.held, "incident", incident.FormatRef(job.Args.IncidentID))
	}
	if w.locks == nil {
		return w.work(ctx, job)
	}
	return w.locks.Exclusively(ctx, "review-doc:"+incident.FormatRef(job.Args.IncidentID), func(ctx context.Context) error {
		return w.work(ctx, job)
	})
}

func (w *ReviewWorker) work(ctx context.Context, job *river.Job[ReviewDocArgs]) error {
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.ReviewDocNumber == 0 {
		if _, opened, err := w.report.Reported(ctx, openedKey(&rec)); err != nil || opened {
			// Opened and reported: the router's refresh follows.
			return err
		}
		// The job was scheduled when the record resolved; the record may
		// have reopened since, or its review may no longer be asked for.
		opens := rec.ReviewOpensAt
		if opens.IsZero() && rec.Status == incident.StatusResolved {
			// Resolved before the router recorded when docs open (an
			// upgrade with review jobs queued): its rule, applied now.
			legacy := rec.Clone()
			w.docs.Rules.ReviewActions(nil, &legacy)
			opens = legacy.ReviewOpensAt
		}
		if rec.Status != incident.StatusResolved || opens.IsZero() {
			return nil
		}
		if wait := opens.Sub(w.now()); wait > 0 {
			return river.JobSnooze(wait)
		}
	}
	earlier, err := w.store.Incidents(ctx, store.IncidentFilter{Service: rec.Service, Kind: incident.KindIncident, Before: rec.ID, Limit: 5})
	if err != nil {
		return err
	}
	body, err := w.render(&rec, earlier)
	if err != nil {
		return river.JobCancel(err) // a template error: retrying cannot help
	}
	if rec.ReviewDocNumber == 0 {
		err = w.open(ctx, &rec, body)
	} else {
		err = w.refresh(ctx, &rec, body)
	}
	if err == nil {
		err = w.summarise(ctx, &rec)
	}
	return classify(ctx, err)
}

// open creates the review issue, or adopts the one an earlier attempt
// created before it could report it (a timeout, a 5xx, a crash between
// GitHub's 201 and the report), and reports it.
func (w *ReviewWorker) open(ctx context.Context, rec *incident.Record, body string) error {
	issue, err := w.issues.FindByLabel(ctx, LabelOf(rec))
	if err != nil {
		return err
	}
	if issue == nil {
		labels := []string{"incident", rec.Severity, "service:" + rec.Service, LabelOf(rec)}
		var assignees []string
		if login := w.docs.People.GitHubLogin(rec.Commander); login != "" {
			assignees = []string{login}
		}
		issue, err = w.issues.Create(ctx, reviewdoc.Title(rec), body, labels, assignees)
		if refused(err) && len(assignees) > 0 {
			// GitHub refuses an assignee without access to the repository:
			// open the doc anyway, unassigned.
			w.log.Warn("review doc opened unassigned: GitHub refused the assignee", "incident", rec.Ref(), "login", assignees[0], "err", err)
			issue, err = w.issues.Create(ctx, reviewdoc.Title(rec), body, labels, nil)
		}
		if err != nil {
			return err
		}
	}
	if issue.Number <= 0 || issue.URL == "" {
		return errors.New("github answered without the issue's number or URL")
	}
	at := issue.CreatedAt
	if at.IsZero() {
		at = w.now().UTC()
	}
	if err := w.report.Report(ctx, hubevent.Report{Key: openedKey(rec), Type: incident.EventReviewOpened, At: at,
		IncidentID: rec.ID, IssueNumber: issue.Number, URL: issue.URL}); err != nil {
		return err
	}
	rec.ReviewDoc, rec.ReviewDocNumber = issue.URL, issue.Number
	return nil
}

// commentInstead posts the hub's current sections as a comment when it
// may not rewrite the description (people removed the markers, or it
// would grow past GitHub's limit): their text is never overwritten. One
// comment per distinct content, found again by its hidden marker.
func (w *ReviewWorker) commentInstead(ctx context.Context, rec *incident.Record, body, why string) error {
	sections := reviewdoc.Sections(body, "overview", "timeline", "changes", "followups")
	sum := sha256.Sum256([]byte(sections))
	marker := fmt.Sprintf("<!-- incidenthub:update %s %x -->", rec.Ref(), sum[:8])
	posted, err := commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker,
		why+" Here is what it would have shown:\n\n"+sections)
	if posted {
		w.log.Info("review doc left as people wrote it: commented instead of overwriting", "incident", rec.Ref(), "why", why)
	}
	return err
}

// commenter reads and adds the comments of an issue or pull request.
type commenter interface {
	Comments(ctx context.Context, number int) ([]string, error)
	Comment(ctx context.Context, number int, body string) error
}

// commentOnce posts body under a hidden marker unless a comment already
// carries the marker: an attempt whose answer was lost posted it.
func commentOnce(ctx context.Context, c commenter, number int, marker, body string) (posted bool, err error) {
	comments, err := c.Comments(ctx, number)
	if err != nil || slices.ContainsFunc(comments, func(b string) bool { return strings.Contains(b, marker) }) {
		return false, err
	}
	return true, c.Comment(ctx, number, marker+"\n"+body)
}

// summarise posts a short summary on the review issue once per resolution
// (a reopened and again resolved incident gets a new one), and reports it.
// A hidden marker finds a summary an earlier attempt posted but could not
// report.
func (w *ReviewWorker) summarise(ctx context.Context, rec *incident.Record) error {
	if rec.ResolvedAt.IsZero() || rec.Status.Active() || rec.SummaryFor.Equal(rec.ResolvedAt) {
		return nil
	}
	resolved := rec.ResolvedAt.UTC().Format(time.RFC3339)
	marker := fmt.Sprintf("<!-- incidenthub:summary %s %s -->", rec.Ref(), resolved)
	if _, err := commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker, reviewdoc.Summary(rec)); err != nil {
		return err
	}
	return w.report.Report(ctx, hubevent.Report{Key: hubevent.RecordKey(incident.EventReviewSummarised, rec.ID, resolved),
		Type: incident.EventReviewSummarised, At: w.now().UTC(), IncidentID: rec.ID, For: rec.ResolvedAt})
}

// refresh rewrites the hub's sections, leaving people's text alone; if
// people removed the markers, it says so in a comment instead.
func (w *ReviewWorker) refresh(ctx context.Context, rec *incident.Record, body string) error {
	issue, err := w.issues.Get(ctx, rec.ReviewDocNumber)
	if err != nil {
		return err
	}
	spliced, err := reviewdoc.Splice(issue.Body, body)
	if errors.Is(err, reviewdoc.ErrMarkersMissing) {
		return w.commentInstead(ctx, rec, body,
			"The hub's sections were removed from this issue, so it leaves the description as you wrote it.")
	}
	if err != nil {
		return err
	}
	// Task-list items the hub has begun to file now live in its list.
	var titles []string
	for _, f := range rec.FollowUps {
		if !f.Settling() {
			titles = append(titles, f.Title)
		}
	}
	if spliced = reviewdoc.RemoveTaskItems(spliced, titles); spliced == issue.Body {
		return nil
	}
	if reviewdoc.TooLong(spliced) {
		// What people wrote and the hub's sections no longer fit one
		// description (GitHub answers 422): their text stays as it is.
		return w.commentInstead(ctx, rec, body,
			"The description is at GitHub's length limit with what you wrote, so the hub leaves it as it is.")
	}
	return w.issues.EditBody(ctx, rec.ReviewDocNumber, spliced)
}

func (w *ReviewWorker) render(rec *incident.Record, earlier []incident.Record) (string, error) {
	return w.docs.render(rec, earlier, w.now())
}

// render is rec's review doc as the hub writes it at now.
func (d Docs) render(rec *incident.Record, earlier []incident.Record, now time.Time) (string, error) {
	in := reviewdoc.Input{Record: rec.Clone(), Lookback: d.Lookback}
	// A task-list item still settling stays where people wrote it.
	in.Record.FollowUps = slices.DeleteFunc(in.Record.FollowUps, func(f incident.FollowUp) bool { return f.Settling() })
	for _, s := range d.Severities {
		if s.Name == rec.Severity {
			in.SeverityDescription = s.Description
		}
	}
	for _, s := range d.Services {
		if s.Name == rec.Service {
			in.Playbook = s.Playbook
		}
	}
	in.Due = rec.ReviewDue
	if in.Due.IsZero() && !rec.ResolvedAt.IsZero() {
		// The doc being opened: the router sets the due date from the
		// issue's creation, and the refresh that follows shows it.
		in.Due = now.UTC().Add(d.DueWithin).Truncate(time.Minute)
	}
	in.Earlier = earlier
	if d.Template == nil {
		return reviewdoc.Render(in)
	}
	return d.Template.Render(in)
}

// Preview is what the hub would post for the record now, without GitHub:
// the review doc as it would open (or be rewritten), and the summary
// comment once the incident is resolved ("" before).
func (d Docs) Preview(ctx context.Context, s ReviewStore, id int64, now time.Time) (doc, summary string, err error) {
	rec, err := s.Incident(ctx, id)
	if err != nil {
		return "", "", err
	}
	earlier, err := s.Incidents(ctx, store.IncidentFilter{Service: rec.Service, Kind: incident.KindIncident, Before: rec.ID, Limit: 5})
	if err != nil {
		return "", "", err
	}
	if doc, err = d.render(&rec, earlier, now); err != nil {
		return "", "", err
	}
	if !rec.ResolvedAt.IsZero() && !rec.Status.Active() {
		summary = reviewdoc.Summary(&rec)
	}
	return doc, summary, nil
}

// DocsFrom is what review docs are written from, in cfg: it reads and
// checks review.template, if set.
func DocsFrom(cfg *config.Config) (Docs, error) {
	d := Docs{Repo: cfg.GitHub.ReviewRepo, Lookback: cfg.Correlation.ChangeLookback, DueWithin: cfg.Review.DueWithin,
		Severities: cfg.Severities, Services: cfg.Services, People: cfg.People,
		Rules: pipeline.RulesFrom(&config.Config{Severities: cfg.Severities, Review: cfg.Review})}
	if cfg.Review.Template != "" {
		t, err := reviewdoc.LoadTemplate(cfg.Review.Template)
		if err != nil {
			return d, fmt.Errorf("review.template: %w", err)
		}
		d.Template = t
	}
	return d, nil
}

// ReminderWorker reminds, once, that a review is overdue.
type ReminderWorker struct {
	river.WorkerDefaults[ReviewReminderArgs]

	issues ReviewIssues // nil: held, for the reason in held
	held   string
	store  ReviewStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewReminderWorker returns the worker; it holds its jobs as the review
// worker does.
func NewReminderWorker(issues ReviewIssues, s ReviewStore, r Reporter, log *slog.Logger) *ReminderWorker {
	return &ReminderWorker{issues: issues, held: heldWithout, store: s, report: r, log: log.With("component", "review-reminder"), now: time.Now}
}

// Work posts the reminder unless the review is done or was reminded of.
func (w *ReminderWorker) Work(ctx context.Context, job *river.Job[ReviewReminderArgs]) error {
	if w.issues == nil {
		return actions.Hold(ctx, w.log, w.held, "incident", incident.FormatRef(job.Args.IncidentID))
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.Status == incident.StatusClosed || rec.ReviewDocNumber == 0 {
		return nil
	}
	if wait := rec.ReviewDue.Sub(w.now()); wait > 0 {
		return river.JobSnooze(wait) // the due date moved
	}
	marker := "<!-- incidenthub:reminder " + rec.Ref() + " -->"
	_, err = commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker, fmt.Sprintf(
		"This review was due %s. When the people involved have had their say, close this issue to close %s; "+
			"a review need not end in action items. This is the only reminder.",
		rec.ReviewDue.UTC().Format("2006-01-02 15:04 UTC"), rec.Ref()))
	if err == nil {
		err = w.report.Report(ctx, hubevent.Report{Key: hubevent.RecordKey(incident.EventReviewReminded, rec.ID), Type: incident.EventReviewReminded,
			At: w.now().UTC(), IncidentID: rec.ID})
	}
	return classify(ctx, err)
}
