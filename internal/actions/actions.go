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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Job is one kind of job a connector runs for the router's actions: how
// an action becomes the job's arguments, and the worker that runs it.
// Connectors provide their jobs to the "jobs" group; nothing lists them
// all by hand.
type Job struct {
	// Action is the router's action kind the job carries out.
	Action string
	// Kind is River's kind of the job's arguments.
	Kind string
	// Args makes the job's arguments for an action on a record.
	Args func(incidentID int64, a incident.Action) river.JobArgs
	// Register adds the job's worker.
	Register func(*river.Workers)
	// Queue is the River queue the job's InsertOpts name, and MaxWorkers
	// how many of its jobs run at once (GitHub asks for serial writes: 1).
	Queue      string
	MaxWorkers int
}

// NewJob describes the jobs of worker w for the router's action kind.
func NewJob[T insertable](action string, w river.Worker[T], maxWorkers int, args func(incidentID int64, a incident.Action) T) Job {
	var zero T
	return Job{
		Action: action, Kind: zero.Kind(), Queue: zero.InsertOpts().Queue, MaxWorkers: maxWorkers,
		Args:     func(id int64, a incident.Action) river.JobArgs { return args(id, a) },
		Register: func(ws *river.Workers) { river.AddWorker[T](ws, freshWaiting[T]{w}) },
	}
}

// freshWaiting forgets why a job last waited when it runs again, so that
// `actions list` never shows a reason that no longer holds (a job once
// held, now waiting for its review's decompression time).
type freshWaiting[T river.JobArgs] struct{ river.Worker[T] }

func (f freshWaiting[T]) Work(ctx context.Context, job *river.Job[T]) error {
	if len(job.Output()) > 0 {
		ctx = context.WithValue(ctx, lastWaitKey{}, WaitingOf(job.JobRow))
		waitFor(ctx, Waiting{})
	}
	return f.Worker.Work(ctx, job)
}

// lastWaitKey keeps, in a job's context, why it last waited.
type lastWaitKey struct{}

// insertable are job arguments that name their queue.
type insertable interface {
	river.JobArgs
	river.JobArgsWithInsertOpts
}

// OnePending keeps one unfinished job per kind and arguments in queue, for
// jobs whose input does not move (a note on one page, one reminder).
func OnePending(queue string) river.InsertOpts {
	return river.InsertOpts{Queue: queue, MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled},
	}}
}

// fetchPollInterval is how often each queue looks for jobs that became
// available (docs/decisions.md §15). On SQLite each look takes the one
// writer connection; PostgreSQL looks twice as often for the same p99,
// since its decisions take longer to commit.
func fetchPollInterval(driver string) time.Duration {
	if driver == "postgres" {
		return 100 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// MaxAttempts is how often a job is tried before it is a dead letter: with
// the retry policy's backoff, about a day and a half of vendor outage.
const MaxAttempts = 20

// HeldRecheck is how often a held job (a connector without credentials)
// looks again; credentials arrive with a restart on a new configuration.
const HeldRecheck = 10 * time.Minute

// Rate-limit waits: at least MinSnooze, so that a limit naming no time (or
// zero) is never hammered; at most MaxSnooze, so that one answer cannot
// park a job for an hour.
const (
	MinSnooze = 30 * time.Second
	MaxSnooze = 15 * time.Minute
)

// Waiting is what a job that waits keeps on itself (River's recorded
// output), so that `actions list` says why from what the running hub saw,
// not from the configuration of whoever runs the command.
type Waiting struct {
	// Held is why the connector cannot run the job with its configuration.
	Held string `json:"held,omitempty"`
	// RateLimited names the vendor whose rate limit the job waits out.
	RateLimited string `json:"rate_limited,omitempty"`
}

// Hold parks a job its connector cannot run with this configuration: it
// waits without spending an attempt, keeps the reason, and looks again
// after HeldRecheck (nothing is dropped, nothing pretends to succeed). It
// warns once per job and reason, not at every recheck: args say which job.
func Hold(ctx context.Context, log *slog.Logger, reason string, args ...any) error {
	if last, _ := ctx.Value(lastWaitKey{}).(Waiting); last.Held != reason {
		log.Warn("job held until configured", append([]any{"reason", reason}, args...)...)
	}
	waitFor(ctx, Waiting{Held: reason})
	return river.JobSnooze(HeldRecheck)
}

// RateLimitSnooze waits out a vendor's rate limit without spending an
// attempt, within MinSnooze and MaxSnooze.
func RateLimitSnooze(ctx context.Context, vendor string, wait time.Duration) error {
	waitFor(ctx, Waiting{RateLimited: vendor})
	return river.JobSnooze(min(max(wait, MinSnooze), MaxSnooze))
}

// waitFor records why the job waits. Outside River (a worker called
// directly) there is no job to record it on, and nothing is lost.
func waitFor(ctx context.Context, w Waiting) { _ = river.RecordOutput(ctx, w) }

// WaitingOf is why a job last waited, as it recorded it.
func WaitingOf(j *rivertype.JobRow) Waiting {
	var w Waiting
	_ = json.Unmarshal(j.Output(), &w) // no output, or another shape: no reason
	return w
}

// Queue is the River client over the hub's database.
type Queue struct {
	client *river.Client[*sql.Tx]
	driver riverdriver.Driver[*sql.Tx]
	db     Database
	jobs   map[string]Job // by action kind
}

// Config tunes the queue.
type Config struct {
	// Jobs are every connector's jobs.
	Jobs   []Job
	Logger *slog.Logger
	// Insert-only clients (the CLI) have no workers and never start.
	InsertOnly bool
	// JobTimeout bounds one run; RescueAfter re-runs a job whose process
	// died while it ran. Defaults 2 and 5 minutes.
	JobTimeout, RescueAfter time.Duration
	// Alarm, when set, makes every job that fails for good loud.
	Alarm *Alarm
}

// Database is the store's database, which the queue shares: River's jobs
// are inserted in the store's own transactions.
type Database interface {
	// WriteDB is where the store writes: SQLite's single writer
	// connection, or PostgreSQL's pool.
	WriteDB() *sql.DB
	// Driver names the database: sqlite or postgres.
	Driver() string
	// Exclusively runs fn while no other replica runs the same work.
	Exclusively(ctx context.Context, name string, fn func(context.Context) error) error
}

// NewQueue returns a queue on the store's database. On PostgreSQL River
// runs on its database/sql driver rather than its pgx one, so that a job
// is inserted in the very *sql.Tx of the change that asks for it, the
// same type on both databases (docs/decisions.md §12).
func NewQueue(db Database, cfg Config) (*Queue, error) {
	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db.WriteDB())
	if db.Driver() == "postgres" {
		driver = riverdatabasesql.New(db.WriteDB())
	}
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
		// Neither driver listens for inserts, and a job inserted in a
		// decision's transaction is only visible once it commits: River
		// sees it at its next poll. At River's default second, a triage
		// note waited up to a second for nothing (p99 986 ms over 100
		// pages); a fifth costs each queue five indexed queries a second.
		FetchPollInterval: fetchPollInterval(db.Driver()),
	}
	if cfg.Alarm != nil {
		rc.Middleware = []rivertype.Middleware{cfg.Alarm}
	}
	jobs := make(map[string]Job, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		if _, dup := jobs[j.Action]; dup {
			return nil, fmt.Errorf("job queue: two jobs for action %q", j.Action)
		}
		jobs[j.Action] = j
	}
	if !cfg.InsertOnly {
		rc.Workers = river.NewWorkers()
		for _, j := range cfg.Jobs {
			j.Register(rc.Workers)
		}
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}
		for _, j := range cfg.Jobs {
			rc.Queues[j.Queue] = river.QueueConfig{MaxWorkers: max(rc.Queues[j.Queue].MaxWorkers, j.MaxWorkers, 1)}
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return &Queue{client: client, driver: driver, db: db, jobs: jobs}, nil
}

// Migrate applies River's own migrations, one replica at a time: River
// takes no lock of its own, and replicas start together.
func (q *Queue) Migrate(ctx context.Context) error {
	m, err := rivermigrate.New(q.driver, nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return q.db.Exclusively(ctx, "river-migrate", func(ctx context.Context) error {
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("job queue migrations: %w", err)
		}
		return nil
	})
}

// Enqueue inserts the job for an action in the caller's transaction, so
// that the job exists if and only if the change that asked for it does.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error {
	j, ok := q.jobs[a.Kind]
	if !ok {
		return fmt.Errorf("no job for action %q", a.Kind)
	}
	args := j.Args(incidentID, a)
	var opts *river.InsertOpts
	if !a.RunAt.IsZero() {
		opts = &river.InsertOpts{ScheduledAt: a.RunAt}
	}
	if _, err := q.client.InsertTx(ctx, tx, args, opts); err != nil {
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

// Outcome is the one retry contract of every vendor call: what River does
// with its error. resp is the vendor's answer when there was one (its
// status and headers; nil after a transport failure).
//
//   - nil: done.
//   - a rate limit (429, or a 403 or 503 naming a wait in Retry-After,
//     X-RateLimit-Reset or ratelimit-reset): snooze for the named wait,
//     within MinSnooze and MaxSnooze, without spending an attempt.
//   - a refusal retrying cannot change (any other 4xx but 408): cancel,
//     keeping the vendor's words; a dead letter for `actions retry` once
//     fixed.
//   - anything else (a timeout, a 5xx, the network): the error, retried
//     with backoff.
//
// The context is checked first: an SDK that wraps transport errors with %v
// (go-pagerduty) would hide a cancelled job behind a retryable error.
func Outcome(ctx context.Context, vendor string, err error, resp *http.Response) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return errors.Join(err, ctx.Err())
	}
	if resp == nil {
		return err
	}
	if wait, limited := httpclient.RateLimited(resp, time.Now()); limited {
		return RateLimitSnooze(ctx, vendor, wait)
	}
	if code := resp.StatusCode; code >= 400 && code < 500 && code != http.StatusRequestTimeout {
		return river.JobCancel(fmt.Errorf("%s refused (%d): %w", vendor, code, err))
	}
	return err
}
