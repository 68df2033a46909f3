package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/incidenthub/incidenthub/internal/escape"
)

// Failure is a job that failed for good: refused by its vendor in a way
// retrying cannot change, or out of attempts. It stays a dead letter for
// `actions list --failed` and `actions retry`.
type Failure struct {
	JobID       int64
	Kind        string
	IncidentID  int64 // zero when the job is about no record
	Attempt     int
	MaxAttempts int
	Err         string
	At          time.Time
}

// FailureRecorder puts a failure on its record's timeline (as a hub
// event, so the router decides the entry like any other), once: fresh is
// false when it was recorded before.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, f Failure) (fresh bool, err error)
}

// Alarm makes a job that fails for good loud: an ERROR log line, the
// incidenthub_actions_failed_total counter, and an entry on the record's
// timeline. It wraps every worker, so no connector can forget it.
type Alarm struct {
	river.MiddlewareDefaults
	log      *slog.Logger
	failed   *prometheus.CounterVec
	recorder FailureRecorder
}

var _ rivertype.WorkerMiddleware = (*Alarm)(nil)

// NewAlarm returns an alarm that logs to log, counts in failed (by job
// kind) and records through r.
func NewAlarm(log *slog.Logger, failed *prometheus.CounterVec, r FailureRecorder) *Alarm {
	return &Alarm{log: log, failed: failed, recorder: r}
}

// Work implements rivertype.WorkerMiddleware.
func (a *Alarm) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	defer func() {
		// A panic is a failure like another: River would retry it, and on
		// the last attempt it must be as loud.
		if p := recover(); p != nil {
			a.log.Error("job panicked", "job", job.ID, "kind", job.Kind, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil && final(job, err) {
			a.raise(ctx, job, err)
		}
	}()
	return doInner(ctx)
}

// final reports whether River will not run the job again by itself.
func final(job *rivertype.JobRow, err error) bool {
	var snooze *river.JobSnoozeError
	if errors.As(err, &snooze) {
		return false
	}
	var cancel *river.JobCancelError
	return errors.As(err, &cancel) || job.Attempt >= job.MaxAttempts
}

// maxFailureText bounds the vendor's words kept on a timeline.
const maxFailureText = 300

func (a *Alarm) raise(ctx context.Context, job *rivertype.JobRow, err error) {
	// A refusal's own words, without River's wrapping.
	var refused *river.JobCancelError
	if errors.As(err, &refused) && refused.Unwrap() != nil {
		err = refused.Unwrap()
	}
	f := failureOf(job, err.Error(), time.Now())
	a.sound(f)
	if f.IncidentID == 0 || a.recorder == nil {
		return
	}
	// The job's own context may be what ended it (its timeout).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, rerr := a.recorder.RecordFailure(ctx, f); rerr != nil {
		a.log.Error("job failure not put on the record's timeline", "job", job.ID, "err", rerr)
	}
}

// JobLister lists River's jobs.
type JobLister interface {
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// sweepSize is how many of the newest discarded jobs a sweep looks at.
const sweepSize = 100

// Sweep raises the alarm for jobs River discarded without the middleware
// seeing them fail: River's rescuer discards a job stuck on its last
// attempt (its process killed) without running it again. It looks at the
// newest discarded jobs; those already on their record's timeline (the
// middleware raised them, or an earlier sweep) are left alone. Jobs
// about no record cannot be told apart from one sweep to the next, and
// are the middleware's alone.
func (a *Alarm) Sweep(ctx context.Context, jobs JobLister) error {
	res, err := jobs.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).First(sweepSize))
	if err != nil {
		return fmt.Errorf("list discarded jobs: %w", err)
	}
	for _, job := range res.Jobs {
		why, at := "discarded by River (its last attempt never finished: the process died or stalled)", time.Now()
		if n := len(job.Errors); n > 0 {
			why = job.Errors[n-1].Error
		}
		if job.FinalizedAt != nil {
			at = *job.FinalizedAt
		}
		f := failureOf(job, why, at)
		if f.IncidentID == 0 {
			continue
		}
		fresh, err := a.recorder.RecordFailure(ctx, f)
		if err != nil {
			return fmt.Errorf("record job %d's failure: %w", job.ID, err)
		}
		if fresh {
			a.sound(f)
		}
	}
	return nil
}

// failureOf is a job's failure for good: why, with the vendor's words
// clipped, and when.
func failureOf(job *rivertype.JobRow, why string, at time.Time) Failure {
	return Failure{JobID: job.ID, Kind: job.Kind, IncidentID: jobIncident(job), Attempt: job.Attempt,
		MaxAttempts: job.MaxAttempts, Err: escape.Truncate(why, maxFailureText), At: at.UTC()}
}

// sound makes a failure loud: counted, and an ERROR line.
func (a *Alarm) sound(f Failure) {
	a.failed.WithLabelValues(f.Kind).Inc()
	a.log.Error("job failed for good; fix the cause, then `incidenthub actions retry`",
		"job", f.JobID, "kind", f.Kind, "incident", f.IncidentID, "attempt", f.Attempt, "max_attempts", f.MaxAttempts, "err", f.Err)
}

// jobIncident is the record a job is about: every job's arguments name it
// as incident_id.
func jobIncident(job *rivertype.JobRow) int64 {
	var args struct {
		IncidentID int64 `json:"incident_id"`
	}
	_ = json.Unmarshal(job.EncodedArgs, &args)
	return args.IncidentID
}
