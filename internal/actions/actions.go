// Package actions runs the hub's side effects on vendors as durable River
// jobs, inserted in the same transaction as the record change that asks
// for them, retried with backoff, and visible (with a dead-letter state)
// through `incidenthub actions list|retry|cancel`.
//
// Jobs are at-least-once (River completes them asynchronously), so every
// worker is idempotent: it looks for what it may already have created
// before creating it.
package actions

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Queues. GitHub asks integrations for serial writes, so its queue has one
// worker.
const (
	QueueGitHub    = "github"
	QueuePagerDuty = "pagerduty"
	QueueJira      = "jira"
)

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
	return river.InsertOpts{Queue: QueueGitHub, MaxAttempts: 20}
}

// PageNoteArgs adds a note to a PagerDuty incident linking the review
// doc, or, with FollowUpKey, a follow-up's ticket.
type PageNoteArgs struct {
	IncidentID  int64  `json:"incident_id"`
	PageID      string `json:"page_id"`
	FollowUpKey string `json:"followup_key,omitempty"`
}

// Kind implements river.JobArgs.
func (PageNoteArgs) Kind() string { return "pagerduty.note" }

// InsertOpts: one note job per page at a time.
func (PageNoteArgs) InsertOpts() river.InsertOpts { return onePending(QueuePagerDuty) }

// ReviewReminderArgs reminds, once, that a review is overdue.
type ReviewReminderArgs struct {
	IncidentID int64 `json:"incident_id"`
}

// Kind implements river.JobArgs.
func (ReviewReminderArgs) Kind() string { return "github.review_reminder" }

// InsertOpts: one reminder job per incident at a time.
func (ReviewReminderArgs) InsertOpts() river.InsertOpts { return onePending(QueueGitHub) }

// ChangeNoteArgs comments on a pull request among an incident's changes.
type ChangeNoteArgs struct {
	IncidentID int64  `json:"incident_id"`
	ChangeKey  string `json:"change_key"`
}

// Kind implements river.JobArgs.
func (ChangeNoteArgs) Kind() string { return "github.change_note" }

// InsertOpts: one job per incident and change at a time.
func (ChangeNoteArgs) InsertOpts() river.InsertOpts { return onePending(QueueGitHub) }

// FileFollowUpArgs files a follow-up's Jira ticket, once.
type FileFollowUpArgs struct {
	IncidentID  int64  `json:"incident_id"`
	FollowUpKey string `json:"followup_key"`
}

// Kind implements river.JobArgs.
func (FileFollowUpArgs) Kind() string { return "jira.file_followup" }

// InsertOpts: one job per follow-up at a time, so that two workers never
// race to create the same ticket.
func (FileFollowUpArgs) InsertOpts() river.InsertOpts { return onePending(QueueJira) }

// FollowUpReplyArgs confirms a filed follow-up on the review issue.
type FollowUpReplyArgs struct {
	IncidentID  int64  `json:"incident_id"`
	FollowUpKey string `json:"followup_key"`
}

// Kind implements river.JobArgs.
func (FollowUpReplyArgs) Kind() string { return "github.followup_reply" }

// InsertOpts: one reply job per follow-up at a time.
func (FollowUpReplyArgs) InsertOpts() river.InsertOpts { return onePending(QueueGitHub) }

// onePending keeps one unfinished job per kind and arguments, for jobs
// whose input does not move (a note on one page, one reminder).
func onePending(queue string) river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled},
	}}
}

// HeldRecheck is how often a held job (a connector without credentials)
// looks again; credentials arrive with a restart on a new configuration.
const HeldRecheck = 10 * time.Minute

// Rate-limit waits: at least minSnooze, so that a limit naming no time (or
// zero) is never hammered; at most MaxSnooze, so that one answer cannot
// park a job for an hour.
const (
	minSnooze = 30 * time.Second
	MaxSnooze = 15 * time.Minute
)

// RateLimitSnooze waits out a vendor's rate limit without spending an
// attempt, within minSnooze and MaxSnooze.
func RateLimitSnooze(wait time.Duration) error {
	return river.JobSnooze(min(max(wait, minSnooze), MaxSnooze))
}

// Queue is the River client over the hub's SQLite database.
type Queue struct {
	client *river.Client[*sql.Tx]
	db     *sql.DB
}

// Config tunes the queue.
type Config struct {
	Workers *river.Workers
	Logger  *slog.Logger
	// Insert-only clients (the CLI) have no workers and never start.
	InsertOnly bool
	// JobTimeout bounds one run; RescueAfter re-runs a job whose process
	// died while it ran. Defaults 2 and 5 minutes.
	JobTimeout, RescueAfter time.Duration
}

// NewQueue returns a queue on db, the store's single writer connection:
// River's jobs are inserted in the store's transactions.
func NewQueue(db *sql.DB, cfg Config) (*Queue, error) {
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 2 * time.Minute
	}
	if cfg.RescueAfter == 0 {
		cfg.RescueAfter = 5 * time.Minute
	}
	rc := &river.Config{
		Logger: cfg.Logger,
		// A job running when the process died is rescued minutes after a
		// restart, not after River's default hour (NOTES-dependencies).
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		RetryPolicy:          retryPolicy{},
	}
	if !cfg.InsertOnly {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{
			QueueGitHub:        {MaxWorkers: 1},
			QueuePagerDuty:     {MaxWorkers: 2},
			QueueJira:          {MaxWorkers: 2},
			river.QueueDefault: {MaxWorkers: 2},
		}
	}
	client, err := river.NewClient(riversqlite.New(db), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return &Queue{client: client, db: db}, nil
}

// Migrate applies River's own migrations.
func (q *Queue) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(q.db), nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}

// Enqueue inserts the job for an action in the caller's transaction, so
// that the job exists if and only if the change that asked for it does.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error {
	return insert(ctx, q.client, tx, incidentID, a)
}

// EnqueueFromJob inserts a follow-on job from inside a running job, with
// the client River puts in the job's context.
func EnqueueFromJob(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error {
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", a.Kind, incident.FormatRef(incidentID), err)
	}
	return insert(ctx, client, tx, incidentID, a)
}

func insert(ctx context.Context, client *river.Client[*sql.Tx], tx *sql.Tx, incidentID int64, a incident.Action) error {
	var args river.JobArgs
	switch a.Kind {
	case incident.ActionReviewDoc:
		args = ReviewDocArgs{IncidentID: incidentID}
	case incident.ActionPageNote:
		args = PageNoteArgs{IncidentID: incidentID, PageID: a.Target, FollowUpKey: a.FollowUp}
	case incident.ActionReviewReminder:
		args = ReviewReminderArgs{IncidentID: incidentID}
	case incident.ActionChangeNote:
		args = ChangeNoteArgs{IncidentID: incidentID, ChangeKey: a.Target}
	case incident.ActionFileFollowUp:
		args = FileFollowUpArgs{IncidentID: incidentID, FollowUpKey: a.Target}
	case incident.ActionFollowUpReply:
		args = FollowUpReplyArgs{IncidentID: incidentID, FollowUpKey: a.Target}
	default:
		return fmt.Errorf("no job for action %q", a.Kind)
	}
	var opts *river.InsertOpts
	if !a.RunAt.IsZero() {
		opts = &river.InsertOpts{ScheduledAt: a.RunAt}
	}
	if _, err := client.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", args.Kind(), incident.FormatRef(incidentID), err)
	}
	return nil
}

// Client is the River client, for starting, stopping and the CLI.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

// retryPolicy is exponential backoff with jitter: about 2^attempt seconds
// (1s, 2s, 4s, … capped at an hour), so that a vendor outage of an
// afternoon is ridden out within MaxAttempts.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Hour
	if job.Attempt < 12 {
		d = min(time.Duration(1<<job.Attempt)*time.Second, time.Hour)
	}
	return time.Now().Add(d/2 + rand.N(d/2+1))
}
