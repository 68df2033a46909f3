package actions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/lifecycle"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module runs the job queue for the life of the app.
var Module = fx.Module("actions",
	fx.Provide(newForApp),
	fx.Provide(fx.Private, func(s *store.Store) Database { return s }),
)

// Params are the queue's dependencies in an app. Each connector provides
// its jobs to the "jobs" group.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	DB        Database
	Jobs      []Job `group:"jobs"`
	Config    config.Jobs
	Log       *slog.Logger
	Metrics   *metrics.Metrics
	// Failures puts jobs that fail for good on their record's timeline.
	Failures FailureRecorder
	// Store gives the lease under which one replica sweeps for jobs River
	// discarded by itself.
	Store *store.Store
	// Skip leaves River's migrations to `incidenthub migrate`.
	Skip store.SkipMigrations `optional:"true"`
}

func newForApp(p Params) (*Queue, error) {
	log := p.Log.With("component", "actions")
	alarm := NewAlarm(log, p.Metrics.ActionsFailed, p.Failures)
	p.Metrics.Registry.MustRegister(NewJobGauge(p.Store))
	q, err := NewQueue(p.DB, Config{
		Jobs: p.Jobs, Logger: p.Log.With("component", "river"),
		JobTimeout: p.Config.Timeout, RescueAfter: p.Config.RescueAfter,
		Alarm: alarm,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if !p.Skip {
				if err := q.Migrate(ctx); err != nil {
					return err
				}
			}
			// River runs jobs under the context it starts with; fx's start
			// context ends with start-up (NOTES-dependencies), so it gets
			// one of its own and stops through Stop.
			return q.client.Start(context.WithoutCancel(ctx))
		},
		// Stop lets running jobs finish; past the stop deadline they are
		// cancelled and, being idempotent, run again after the restart.
		OnStop: func(ctx context.Context) error {
			err := q.client.Stop(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				return q.client.StopAndCancel(context.WithoutCancel(ctx))
			}
			return err
		},
	})
	// Jobs River's rescuer discards never reach the alarm's middleware:
	// one replica looks for them every minute, once River has started
	// (and migrated its tables).
	lease := p.Store.Lease("job-alarm", time.Minute)
	p.Lifecycle.Append(fx.StopHook(lease.Release))
	lifecycle.Go(p.Lifecycle, func(ctx context.Context) {
		lifecycle.Periodically(ctx, time.Minute, lease, log, func(ctx context.Context) {
			if err := alarm.Sweep(ctx, q.client); err != nil && ctx.Err() == nil {
				log.Warn("sweep for discarded jobs incomplete; the next one goes on", "err", err)
			}
		})
	})
	return q, nil
}
