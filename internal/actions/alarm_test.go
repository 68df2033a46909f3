package actions_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
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

func (f failures) RecordFailure(_ context.Context, x actions.Failure) error {
	f <- x
	return nil
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
