package actions

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
)

// Module runs the job queue for the life of the app.
var Module = fx.Module("actions", fx.Provide(newForApp))

// Database is the store's writer, which the queue shares.
type Database interface {
	WriteDB() *sql.DB
}

// Params are the queue's dependencies in an app. Each connector registers
// its workers into the "workers" group.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	DB        Database
	Workers   []func(*river.Workers) `group:"workers"`
	Jobs      config.Jobs
	Log       *slog.Logger
}

func newForApp(p Params) (*Queue, error) {
	workers := river.NewWorkers()
	for _, register := range p.Workers {
		register(workers)
	}
	q, err := NewQueue(p.DB.WriteDB(), Config{
		Workers: workers, Logger: p.Log.With("component", "river"),
		JobTimeout: p.Jobs.Timeout, RescueAfter: p.Jobs.RescueAfter,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := q.Migrate(ctx); err != nil {
				return err
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
	return q, nil
}
