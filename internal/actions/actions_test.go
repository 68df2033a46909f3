package actions_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// The one retry contract every connector follows.
func TestOutcome(t *testing.T) {
	t.Parallel()
	answer := func(status int, headers ...string) *http.Response {
		h := http.Header{}
		for i := 0; i+1 < len(headers); i += 2 {
			h.Set(headers[i], headers[i+1])
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	failed := errors.New("vendor said no")
	reset := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	for _, tc := range []struct {
		name   string
		err    error
		resp   *http.Response
		snooze time.Duration // > 0: a snooze this long
		until  time.Time     // not zero: a snooze until then
		cancel bool
		retry  bool
	}{
		{name: "done", err: nil},
		{name: "transport failure: retry", err: failed, retry: true},
		{name: "5xx: retry", err: failed, resp: answer(502), retry: true},
		{name: "408: retry", err: failed, resp: answer(408), retry: true},
		{name: "400: final", err: failed, resp: answer(400), cancel: true},
		{name: "404: final", err: failed, resp: answer(404), cancel: true},
		{name: "429 with Retry-After", err: failed, resp: answer(429, "Retry-After", "120"), snooze: 2 * time.Minute},
		{name: "429 with PagerDuty's ratelimit-reset", err: failed, resp: answer(429, "ratelimit-reset", "300"), snooze: 5 * time.Minute},
		{name: "429 naming no time: at least a while", err: failed, resp: answer(429), snooze: actions.MinSnooze},
		{name: "429 naming an hour: capped", err: failed, resp: answer(429, "Retry-After", "3600"), snooze: actions.MaxSnooze},
		{name: "503 with Retry-After", err: failed, resp: answer(503, "Retry-After", "60"), snooze: time.Minute},
		{name: "403 with the rate limit spent", err: failed,
			resp:  answer(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", fmt.Sprint(reset.Unix())),
			until: reset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := actions.Outcome(context.Background(), "Vendor", tc.err, tc.resp)
			if !tc.until.IsZero() {
				// As long as is left when Outcome ran, however late on a
				// loaded machine the subtest did.
				tc.snooze = time.Until(tc.until)
			}
			var (
				snooze *river.JobSnoozeError
				cancel *river.JobCancelError
			)
			switch {
			case tc.err == nil:
				require.NoError(t, got)
			case tc.snooze > 0 || !tc.until.IsZero():
				require.ErrorAs(t, got, &snooze)
				require.InDelta(t, tc.snooze.Seconds(), snooze.Duration.Seconds(), 2)
			case tc.cancel:
				require.ErrorAs(t, got, &cancel)
				require.ErrorContains(t, got, fmt.Sprintf("Vendor refused (%d)", tc.resp.StatusCode))
			case tc.retry:
				require.ErrorIs(t, got, failed)
				require.False(t, errors.As(got, &snooze) || errors.As(got, &cancel))
			}
		})
	}
}

// A cancelled job is not mistaken for a vendor's failure.
func TestOutcomeCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := actions.Outcome(ctx, "Vendor", errors.New("Post: dial: %v"), nil)
	require.ErrorIs(t, got, context.Canceled)
}

type heldArgs struct {
	IncidentID int64 `json:"incident_id"`
}

func (heldArgs) Kind() string                 { return "test.held" }
func (heldArgs) InsertOpts() river.InsertOpts { return actions.OnePending("test") }

type heldWorker struct {
	river.WorkerDefaults[heldArgs]
	log *slog.Logger
}

func (w heldWorker) Work(ctx context.Context, job *river.Job[heldArgs]) error {
	return actions.Hold(ctx, w.log, "vendor.token is not set", "incident", job.Args.IncidentID)
}

// lockedBuffer is a log destination for River's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A held job keeps its reason on itself, where `actions list` and the
// jobs gauge read it, waits without spending an attempt, and warns once,
// not at every recheck.
func TestHeldJobKeepsItsReason(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			testHeldJobKeepsItsReason(t, storetest.Open(t, driver))
		})
	}
}

func testHeldJobKeepsItsReason(t *testing.T, s *store.Store) {
	logs := &lockedBuffer{}
	q, err := actions.NewQueue(s, actions.Config{
		Logger: slog.New(slog.DiscardHandler),
		Jobs: []actions.Job{actions.NewJob("held", heldWorker{log: slog.New(slog.NewTextHandler(logs, nil))}, 1,
			func(id int64, _ incident.Action) heldArgs { return heldArgs{IncidentID: id} })},
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, q.Migrate(ctx))
	tx, err := s.WriteDB().BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(ctx, tx, 1, incident.Action{Kind: "held"}))
	require.NoError(t, tx.Commit())
	require.ErrorContains(t, q.Enqueue(ctx, nil, 1, incident.Action{Kind: "unknown"}), `no job for action "unknown"`)

	require.NoError(t, q.Client().Start(ctx))
	t.Cleanup(func() { require.NoError(t, q.Client().Stop(context.Background())) })
	var job *rivertype.JobRow
	require.Eventually(t, func() bool {
		res, err := q.Client().JobList(ctx, river.NewJobListParams())
		require.NoError(t, err)
		job = res.Jobs[0]
		return job.State == rivertype.JobStateScheduled
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, actions.Waiting{Held: "vendor.token is not set"}, actions.WaitingOf(job))
	require.Zero(t, job.Attempt, "held is not an attempt")
	require.WithinDuration(t, time.Now().Add(actions.HeldRecheck), job.ScheduledAt, time.Minute)

	reg := prometheus.NewRegistry()
	reg.MustRegister(actions.NewJobGauge(s))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP incidenthub_jobs Jobs by kind and state: queued, running, scheduled, held (its connector lacks configuration; reason says which), rate_limited, retrying, failed (discarded or cancelled: `+"`incidenthub actions list --failed`"+`). Completed jobs are not counted.
# TYPE incidenthub_jobs gauge
incidenthub_jobs{kind="test.held",reason="vendor.token is not set",state="held"} 1
`), "incidenthub_jobs"))

	// The recheck finds it still held: no second warning.
	_, err = q.Client().JobRetry(ctx, job.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		res, err := q.Client().JobList(ctx, river.NewJobListParams())
		require.NoError(t, err)
		return res.Jobs[0].State == rivertype.JobStateScheduled && res.Jobs[0].ScheduledAt.After(job.ScheduledAt)
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, strings.Count(logs.String(), "job held until configured"), logs.String())
}
