package actions_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

type alarmArgs struct {
	IncidentID int64  `json:"incident_id"`
	Then       string `json:"then"`
}

func (alarmArgs) Kind() string { return "test.alarm" }

// One attempt each: the first failure is the last.
func (alarmArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "test", MaxAttempts: 1}
}

type alarmWorker struct {
	river.WorkerDefaults[alarmArgs]
}

func (alarmWorker) Work(ctx context.Context, job *river.Job[alarmArgs]) error {
	switch job.Args.Then {
	case "refused":
		return river.JobCancel(errors.New("Vendor refused (422): body is too long"))
	case "failed":
		return errors.New("Vendor answered 502")
	case "panicked":
		panic("nil map")
	case "snoozed":
		return river.JobSnooze(time.Hour)
	}
	return nil
}

type failures chan actions.Failure

func (f failures) RecordFailure(_ context.Context, x actions.Failure) (bool, error) {
	f <- x
	return true, nil
}

// A job that fails for good (refused, out of attempts, panicked on its
// last attempt) raises the alarm once; one that succeeds or snoozes does
// not.
func TestAlarmOnJobsThatFailForGood(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	got := make(failures, 10)
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failed_total"}, []string{"kind"})
	logs := &bytes.Buffer{}
	q, err := actions.NewQueue(s, actions.Config{
		Logger: slog.New(slog.DiscardHandler),
		Jobs: []actions.Job{actions.NewJob("alarm", alarmWorker{}, 1,
			func(id int64, a incident.Action) alarmArgs { return alarmArgs{IncidentID: id, Then: a.Target} })},
		Alarm: actions.NewAlarm(slog.New(slog.NewTextHandler(logs, nil)), counter, got),
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, q.Migrate(ctx))
	tx, err := s.WriteDB().BeginTx(ctx, nil)
	require.NoError(t, err)
	for i, then := range []string{"done", "snoozed", "refused", "failed", "panicked"} {
		require.NoError(t, q.Enqueue(ctx, tx, int64(i+1), incident.Action{Kind: "alarm", Target: then}))
	}
	require.NoError(t, tx.Commit())
	require.NoError(t, q.Client().Start(ctx))
	t.Cleanup(func() { require.NoError(t, q.Client().Stop(context.Background())) })

	byRecord := map[int64]actions.Failure{}
	for range 3 {
		select {
		case f := <-got:
			byRecord[f.IncidentID] = f
		case <-time.After(10 * time.Second):
			t.Fatalf("alarms raised: %v", byRecord)
		}
	}
	require.Equal(t, "Vendor refused (422): body is too long", byRecord[3].Err, "the vendor's words, without River's wrapping")
	require.Equal(t, "Vendor answered 502", byRecord[4].Err)
	require.Equal(t, "panic: nil map", byRecord[5].Err)
	for _, f := range byRecord {
		require.Equal(t, "test.alarm", f.Kind)
		require.Equal(t, 1, f.Attempt)
		require.NotZero(t, f.JobID)
	}
	select {
	case f := <-got:
		t.Fatalf("an alarm for a job that did not fail for good: %+v", f)
	case <-time.After(500 * time.Millisecond):
	}
	require.InDelta(t, 3, testutil.ToFloat64(counter.WithLabelValues("test.alarm")), 0)
	require.Equal(t, 3, bytes.Count(logs.Bytes(), []byte("level=ERROR msg=\"job failed for good")))
}

// discarded lists jobs River discarded by itself, and records failures once
// by job and attempt.
type discarded struct {
	jobs     []*rivertype.JobRow
	recorded map[string]actions.Failure
}

func (d *discarded) JobList(context.Context, *river.JobListParams) (*river.JobListResult, error) {
	return &river.JobListResult{Jobs: d.jobs}, nil
}

func (d *discarded) RecordFailure(_ context.Context, f actions.Failure) (bool, error) {
	key := fmt.Sprint(f.JobID, ":", f.Attempt)
	_, seen := d.recorded[key]
	d.recorded[key] = f
	return !seen, nil
}

// A job River's rescuer discarded (its process died on the last attempt)
// never reached the middleware: the sweep raises it, once.
func TestSweepRaisesDiscardedJobsOnce(t *testing.T) {
	t.Parallel()
	finalized := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
	d := &discarded{recorded: map[string]actions.Failure{}, jobs: []*rivertype.JobRow{
		{ID: 7, Kind: "github.review_doc", Attempt: 20, MaxAttempts: 20, EncodedArgs: []byte(`{"incident_id":3}`), FinalizedAt: &finalized},
		{ID: 8, Kind: "test.other", Attempt: 1, MaxAttempts: 1, EncodedArgs: []byte(`{}`), FinalizedAt: &finalized,
			Errors: []rivertype.AttemptError{{Error: "no record to put it on"}}},
	}}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failed_total"}, []string{"kind"})
	logs := &bytes.Buffer{}
	alarm := actions.NewAlarm(slog.New(slog.NewTextHandler(logs, nil)), counter, d)
	require.NoError(t, alarm.Sweep(context.Background(), d))
	require.NoError(t, alarm.Sweep(context.Background(), d), "a second sweep finds it recorded")
	require.Len(t, d.recorded, 1, "only jobs about a record can be told apart between sweeps")
	f := d.recorded["7:20"]
	require.Equal(t, int64(3), f.IncidentID)
	require.Equal(t, finalized, f.At)
	require.Contains(t, f.Err, "discarded by River")
	require.InDelta(t, 1, testutil.ToFloat64(counter.WithLabelValues("github.review_doc")), 0)
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("level=ERROR")))
}
