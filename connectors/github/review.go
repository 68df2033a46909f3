package github

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Issue is what the hub needs of a GitHub issue.
type Issue struct {
	Number int
	URL    string
	Body   string
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
	return &Issue{Number: i.GetNumber(), URL: i.GetHTMLURL(), Body: i.GetBody()}
}

// ReviewStore is what the review worker reads and records.
type ReviewStore interface {
	Incident(ctx context.Context, id int64) (incident.Record, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]incident.Record, error)
	Update(ctx context.Context, fn func(*store.Tx) error) error
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

// EnqueueFunc inserts a follow-on job in a transaction.
type EnqueueFunc func(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error

// ReviewWorker creates each incident's review doc once, and keeps its hub
// sections up to date.
type ReviewWorker struct {
	river.WorkerDefaults[actions.ReviewDocArgs]

	issues  ReviewIssues // nil: held, for the reason in held
	held    string
	store   ReviewStore
	cfg     *config.Config
	log     *slog.Logger
	enqueue EnqueueFunc
}

// NewReviewWorker returns the worker. With no token or review repository
// it holds its jobs (they wait, snoozed, and run once configured).
func NewReviewWorker(cfg *config.Config, issues ReviewIssues, s ReviewStore, log *slog.Logger) *ReviewWorker {
	w := &ReviewWorker{issues: issues, store: s, cfg: cfg, log: log.With("component", "review-doc"), held: ReviewHeld(cfg),
		enqueue: actions.EnqueueFromJob}
	if w.held != "" {
		w.issues = nil
	}
	return w
}

// ReviewHeld says why review docs cannot be written with this
// configuration, or "" when they can.
func ReviewHeld(cfg *config.Config) string {
	switch {
	case cfg.GitHub.Token.Value() == "":
		return "github.token is not set"
	case cfg.GitHub.ReviewRepo == "":
		return "github.review_repo is not set"
	}
	return ""
}

// LabelOf is the label that finds an incident's review issue again.
func LabelOf(r *incident.Record) string { return "incidenthub:" + r.Ref() }

// Work creates or updates the review doc.
func (w *ReviewWorker) Work(ctx context.Context, job *river.Job[actions.ReviewDocArgs]) error {
	if w.issues == nil {
		w.log.Warn("review doc held", "incident", incident.FormatRef(job.Args.IncidentID), "reason", w.held)
		return river.JobSnooze(actions.HeldRecheck)
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.ReviewDocNumber == 0 {
		// The job was scheduled when the record resolved; look again: it
		// may have reopened, or its review may no longer be asked for.
		if wait, due := w.due(&rec); !due {
			return nil
		} else if wait > 0 {
			return river.JobSnooze(wait)
		}
	}
	earlier, err := w.store.Incidents(ctx, store.IncidentFilter{Service: rec.Service, Before: rec.ID, Limit: 5})
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
		err = w.summarise(ctx, rec.ID)
	}
	return classify(err)
}

// open creates the review issue, or adopts the one an earlier attempt
// created before it could record it (a timeout, a 5xx, a crash between
// GitHub's 201 and the hub's commit).
func (w *ReviewWorker) open(ctx context.Context, rec *incident.Record, body string) error {
	issue, err := w.issues.FindByLabel(ctx, LabelOf(rec))
	if err != nil {
		return err
	}
	if issue == nil {
		labels := []string{"incident", rec.Severity, "service:" + rec.Service, LabelOf(rec)}
		var assignees []string
		if login := w.cfg.GitHubLogin(rec.Commander); login != "" {
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
		return fmt.Errorf("GitHub answered without the issue's number or URL")
	}
	// Record the doc and, in the same transaction, ask for a note on
	// each page that links it.
	return w.store.Update(ctx, func(tx *store.Tx) error {
		fresh, err := tx.RecordByID(rec.ID)
		if err != nil {
			return err
		}
		fresh.ReviewDoc, fresh.ReviewDocNumber = issue.URL, issue.Number
		if fresh.Status == incident.StatusResolved {
			fresh.Status = incident.StatusReviewing
		}
		fresh.ReviewDue = time.Now().UTC().Add(w.cfg.Review.DueWithin).Truncate(time.Second)
		if err := w.enqueue(ctx, tx.SQL(), fresh.ID, incident.Action{Kind: incident.ActionReviewReminder, RunAt: fresh.ReviewDue}); err != nil {
			return err
		}
		if err := tx.SaveRecord(fresh, []incident.TimelineEntry{{
			At: time.Now().UTC(), Source: "incidenthub", Kind: incident.EntryReviewOpened, URL: issue.URL,
			Key: "review.opened", Summary: fmt.Sprintf("Review doc opened: %s/%s#%d", w.owner(), w.repoName(), issue.Number),
		}}); err != nil {
			return err
		}
		// One more run writes the doc's own opening into its timeline.
		if err := w.enqueue(ctx, tx.SQL(), fresh.ID, incident.Action{Kind: incident.ActionReviewDoc}); err != nil {
			return err
		}
		for _, p := range fresh.Pages {
			if err := w.enqueue(ctx, tx.SQL(), fresh.ID, incident.Action{Kind: incident.ActionPageNote, Target: p.ID}); err != nil {
				return err
			}
		}
		if !w.cfg.GitHub.CommentOnChanges {
			return nil
		}
		for _, c := range rec.Changes {
			if c.Kind == incident.ChangeMerge && c.PRNumber > 0 {
				if err := w.enqueue(ctx, tx.SQL(), fresh.ID, incident.Action{Kind: incident.ActionChangeNote, Target: c.Key}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// commentInstead posts the hub's current sections as a comment when
// people removed the markers: their text is never overwritten. One
// comment per distinct content, found again by its hidden marker.
func (w *ReviewWorker) commentInstead(ctx context.Context, rec *incident.Record, body string) error {
	sections := reviewdoc.Sections(body, "overview", "timeline", "changes", "followups")
	sum := sha256.Sum256([]byte(sections))
	marker := fmt.Sprintf("<!-- incidenthub:update %s %x -->", rec.Ref(), sum[:8])
	posted, err := commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker,
		"The hub's sections were removed from this issue, so it leaves the description as you wrote it. Here is what it would have shown:\n\n"+sections)
	if posted {
		w.log.Info("review doc markers removed: commented instead of overwriting", "incident", rec.Ref())
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
// (a reopened and again resolved incident gets a new one). A hidden marker
// finds a summary an earlier attempt posted but could not record.
func (w *ReviewWorker) summarise(ctx context.Context, id int64) error {
	rec, err := w.store.Incident(ctx, id)
	if err != nil || rec.ResolvedAt.IsZero() || rec.Status.Active() || rec.SummaryFor.Equal(rec.ResolvedAt) {
		return err
	}
	marker := fmt.Sprintf("<!-- incidenthub:summary %s %s -->", rec.Ref(), rec.ResolvedAt.UTC().Format(time.RFC3339))
	if _, err := commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker, reviewdoc.Summary(&rec)); err != nil {
		return err
	}
	return w.store.Update(ctx, func(tx *store.Tx) error {
		fresh, err := tx.RecordByID(id)
		if err != nil {
			return err
		}
		fresh.SummaryFor = rec.ResolvedAt
		return tx.SaveRecord(fresh, nil)
	})
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
		return w.commentInstead(ctx, rec, body)
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
	return w.issues.EditBody(ctx, rec.ReviewDocNumber, spliced)
}

// due says whether a record's review doc should open, and how long to
// wait for the end of its decompression time. An explicit request (the
// CLI, a /review note) opens it at once.
func (w *ReviewWorker) due(rec *incident.Record) (time.Duration, bool) {
	if rec.Status != incident.StatusResolved || rec.Kind == incident.KindDrill {
		return 0, false
	}
	wait, required := w.cfg.Review.OpenAfter, false
	for _, s := range w.cfg.Severities {
		if s.Name == rec.Severity {
			required = s.Review == config.ReviewRequired
			if s.ReviewOpenAfter > 0 {
				wait = s.ReviewOpenAfter
			}
		}
	}
	switch {
	case rec.ReviewRequested:
		return 0, true
	case !required:
		return 0, false
	}
	return max(time.Until(rec.ResolvedAt.Add(wait)), 0), true
}

func (w *ReviewWorker) render(rec *incident.Record, earlier []incident.Record) (string, error) {
	in := reviewdoc.Input{Record: rec.Clone(), Lookback: w.cfg.Correlation.ChangeLookback}
	// A task-list item still settling stays where people wrote it.
	in.Record.FollowUps = slices.DeleteFunc(in.Record.FollowUps, func(f incident.FollowUp) bool { return f.Settling() })
	for _, s := range w.cfg.Severities {
		if s.Name == rec.Severity {
			in.SeverityDescription = s.Description
		}
	}
	for _, s := range w.cfg.Services {
		if s.Name == rec.Service {
			in.Playbook = s.Playbook
		}
	}
	in.Due = rec.ReviewDue
	if in.Due.IsZero() && !rec.ResolvedAt.IsZero() {
		in.Due = time.Now().UTC().Add(w.cfg.Review.DueWithin).Truncate(time.Minute)
	}
	in.Earlier = earlier
	return reviewdoc.Render(in)
}

func (w *ReviewWorker) owner() string { o, _, _ := strings.Cut(w.cfg.GitHub.ReviewRepo, "/"); return o }
func (w *ReviewWorker) repoName() string {
	_, r, _ := strings.Cut(w.cfg.GitHub.ReviewRepo, "/")
	return r
}

// refused reports GitHub's 422 (validation failed).
func refused(err error) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusUnprocessableEntity
}

// ReminderWorker reminds, once, that a review is overdue.
type ReminderWorker struct {
	river.WorkerDefaults[actions.ReviewReminderArgs]

	issues ReviewIssues // nil: held
	store  ReviewStore
	log    *slog.Logger
}

// NewReminderWorker returns the worker; it holds its jobs as the review
// worker does.
func NewReminderWorker(issues ReviewIssues, s ReviewStore, log *slog.Logger) *ReminderWorker {
	return &ReminderWorker{issues: issues, store: s, log: log.With("component", "review-reminder")}
}

// Work posts the reminder unless the review is done or was reminded of.
func (w *ReminderWorker) Work(ctx context.Context, job *river.Job[actions.ReviewReminderArgs]) error {
	if w.issues == nil {
		return river.JobSnooze(actions.HeldRecheck)
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.Status == incident.StatusClosed || rec.ReviewDocNumber == 0 {
		return nil
	}
	if wait := time.Until(rec.ReviewDue); wait > 0 {
		return river.JobSnooze(wait) // the due date moved
	}
	marker := "<!-- incidenthub:reminder " + rec.Ref() + " -->"
	_, err = commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker, fmt.Sprintf(
		"This review was due %s. When the people involved have had their say, close this issue to close %s; "+
			"a review need not end in action items. This is the only reminder.",
		rec.ReviewDue.UTC().Format("2006-01-02 15:04 UTC"), rec.Ref()))
	return classify(err)
}

// classify turns a GitHub failure into what River should do: wait out a
// rate limit without spending an attempt (capped, so one header cannot
// stall a job for long), stop on a final 4xx keeping GitHub's words, and
// retry with backoff anything else.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return actions.RateLimitSnooze(time.Until(rl.Rate.Reset.Time))
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		// A secondary limit that names no time: GitHub asks for at least a
		// minute.
		wait := abuse.GetRetryAfter()
		if wait == 0 {
			wait = time.Minute
		}
		return actions.RateLimitSnooze(wait)
	}
	var resp *gh.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		if wait, limited := httpclient.RateLimited(resp.Response, time.Now()); limited {
			return actions.RateLimitSnooze(wait)
		}
		code := resp.Response.StatusCode
		if code >= 400 && code < 500 && code != http.StatusRequestTimeout {
			return river.JobCancel(fmt.Errorf("GitHub refused (%d): %w", code, err))
		}
	}
	return err
}
