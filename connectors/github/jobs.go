package github

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Queue is GitHub's job queue. It has one worker: GitHub asks
// integrations for serial writes.
const Queue = "github"

// ReviewDocArgs creates an incident's review doc on GitHub, or brings its
// hub sections up to date.
type ReviewDocArgs struct {
	IncidentID int64 `json:"incident_id"`
}

// Kind implements river.JobArgs.
func (ReviewDocArgs) Kind() string { return "github.review_doc" }

// InsertOpts: not unique. Every change of a record gets its own job, so
// that none is lost to a job that had already read the record (a unique
// job still running would swallow it); the worker is idempotent and makes
// no write when nothing changed.
func (ReviewDocArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts}
}

// ReviewReminderArgs reminds, once, that a review is overdue.
type ReviewReminderArgs struct {
	IncidentID int64 `json:"incident_id"`
}

// Kind implements river.JobArgs.
func (ReviewReminderArgs) Kind() string { return "github.review_reminder" }

// InsertOpts: one reminder job per incident at a time.
func (ReviewReminderArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// ChangeNoteArgs comments on a pull request among an incident's changes.
type ChangeNoteArgs struct {
	IncidentID int64  `json:"incident_id"`
	ChangeKey  string `json:"change_key"`
}

// Kind implements river.JobArgs.
func (ChangeNoteArgs) Kind() string { return "github.change_note" }

// InsertOpts: one job per incident and change at a time.
func (ChangeNoteArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// FollowUpReplyArgs confirms a filed follow-up on the review issue.
type FollowUpReplyArgs struct {
	IncidentID  int64  `json:"incident_id"`
	FollowUpKey string `json:"followup_key"`
}

// Kind implements river.JobArgs.
func (FollowUpReplyArgs) Kind() string { return "github.followup_reply" }

// InsertOpts: one reply job per follow-up at a time.
func (FollowUpReplyArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// Reporter reports what a job made, as a hub event the router decides on,
// and finds a report again.
type Reporter interface {
	Report(ctx context.Context, r hubevent.Report) error
	Reported(ctx context.Context, key string) (hubevent.Report, bool, error)
}

// heldWithout is why a GitHub job built without a client waits.
const heldWithout = "github.token (or github.app) or github.review_repo is not set"

// ReviewHeld says why GitHub jobs cannot run with this configuration, or
// "" when they can.
func ReviewHeld(cfg config.GitHub) string {
	switch {
	case cfg.Identity() == "":
		return "github.token (or github.app) is not set"
	case cfg.ReviewRepo == "":
		return "github.review_repo is not set"
	}
	return ""
}

// JobsParams are what GitHub's jobs need in an app.
type JobsParams struct {
	fx.In

	GitHub     config.GitHub
	Severities []config.Severity
	Docs       Docs
	Store      ReviewStore
	Locks      Exclusive
	Reporter   Reporter
	Gate       *WriteGate
	Log        *slog.Logger
}

// DocsParams are the configuration review docs are written from.
type DocsParams struct {
	fx.In

	GitHub      config.GitHub
	Correlation config.Correlation
	Review      config.Review
	Severities  []config.Severity
	Services    []config.Service
	People      config.People
}

// newDocs is what the review job and the API preview write docs from: a
// broken review.template stops the hub at start, with its line.
func newDocs(p DocsParams) (Docs, error) {
	return DocsFrom(&config.Config{GitHub: p.GitHub, Correlation: p.Correlation, Review: p.Review,
		Severities: p.Severities, Services: p.Services, People: p.People})
}

// Jobs are GitHub's jobs, held (with the reason in the log and in
// `actions list`) until a token and a review repository are configured.
// They share one write gate: GitHub's spacing is per token.
func Jobs(p JobsParams) ([]actions.Job, error) {
	held := ReviewHeld(p.GitHub)
	var (
		client *gh.Client
		issues ReviewIssues
		files  RepoFiles
	)
	if held == "" {
		var err error
		if client, err = NewClient(p.GitHub, httpclient.New(httpclient.Options{Logger: p.Log})); err != nil {
			return nil, err
		}
		issues = NewIssues(client, p.GitHub.ReviewRepo, p.Gate)
		files = NewContents(client, p.GitHub.ReviewRepo, p.Gate)
	} else {
		p.Log.Warn("GitHub review docs are held until configured", "reason", held)
	}
	review := NewReviewWorker(p.Docs, issues, p.Store, p.Reporter, p.Log)
	review.locks = p.Locks
	reminder := NewReminderWorker(issues, p.Store, p.Reporter, p.Log)
	changeNote := NewChangeNoteWorker(client, p.Gate, p.Store, p.Reporter, p.Log)
	reply := NewReplyWorker(issues, p.Store, p.Reporter, p.Log)
	archive := NewArchiveWorker(issues, files, p.Store, p.Reporter, p.Log)
	var severities []string
	for _, s := range p.Severities {
		severities = append(severities, s.Name)
	}
	reports := NewReportWorker(issues, p.Store, severities, p.Log)
	if held != "" {
		review.held, reminder.held, changeNote.held, reply.held, archive.held, reports.held = held, held, held, held, held, held
	}
	return []actions.Job{
		actions.NewJob(incident.ActionReviewDoc, review, 1,
			func(id int64, _ incident.Action) ReviewDocArgs { return ReviewDocArgs{IncidentID: id} }),
		actions.NewJob(incident.ActionReviewReminder, reminder, 1,
			func(id int64, _ incident.Action) ReviewReminderArgs { return ReviewReminderArgs{IncidentID: id} }),
		actions.NewJob(incident.ActionChangeNote, changeNote, 1,
			func(id int64, a incident.Action) ChangeNoteArgs {
				return ChangeNoteArgs{IncidentID: id, ChangeKey: a.Target}
			}),
		actions.NewJob(incident.ActionFollowUpReply, reply, 1,
			func(id int64, a incident.Action) FollowUpReplyArgs {
				return FollowUpReplyArgs{IncidentID: id, FollowUpKey: a.Target}
			}),
		actions.NewJob(incident.ActionArchiveReview, archive, 1,
			func(id int64, _ incident.Action) ArchiveReviewArgs { return ArchiveReviewArgs{IncidentID: id} }),
		// Asked for by `incidenthub report --post`, never by a decision.
		actions.NewJob(incident.ActionPostReport, reports, 1,
			func(int64, incident.Action) PostReportArgs { return PostReportArgs{} }),
	}, nil
}

// classify turns a GitHub failure into what River should do, by the one
// contract every connector follows (actions.Outcome). GitHub's own rate
// limit errors name their reset; a secondary limit that names no time
// waits a minute, as GitHub asks.
func classify(ctx context.Context, err error) error {
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return actions.RateLimitSnooze(ctx, "GitHub", time.Until(rl.Rate.Reset.Time))
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		wait := abuse.GetRetryAfter()
		if wait == 0 {
			wait = time.Minute
		}
		return actions.RateLimitSnooze(ctx, "GitHub", wait)
	}
	var resp *gh.ErrorResponse
	if errors.As(err, &resp) {
		return actions.Outcome(ctx, "GitHub", err, resp.Response)
	}
	return actions.Outcome(ctx, "GitHub", err, nil)
}

// refused reports GitHub's 422 (validation failed).
func refused(err error) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusUnprocessableEntity
}
