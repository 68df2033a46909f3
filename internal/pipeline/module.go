package pipeline

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/lifecycle"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module runs the *Processor for the life of the app.
var Module = fx.Module("pipeline",
	fx.Provide(newForApp),
	fx.Provide(
		fx.Private,
		func(s *store.Store) Store { return s },
		func(q *actions.Queue) Enqueuer { return q },
	),
	fx.Invoke(func(*Processor) {}),
)

// Params are the processor's dependencies in an app.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	// The sections the router's rules come from.
	Severities  []config.Severity
	Services    []config.Service
	Correlation config.Correlation
	Review      config.Review
	Awareness   config.Awareness
	GitHub      config.GitHub
	PagerDuty   config.PagerDuty
	Processing  config.Processing
	Database    *store.Store
	Store       Store
	Normalizers []Normalizer `group:"normalizers"`
	Writer      *inbox.Writer
	Log         *slog.Logger
	Metrics     *metrics.Metrics
	Actions     Enqueuer
}

func newForApp(p Params) *Processor {
	rules := RulesFrom(&config.Config{Severities: p.Severities, Services: p.Services, Correlation: p.Correlation,
		Review: p.Review, Awareness: p.Awareness, GitHub: p.GitHub, PagerDuty: p.PagerDuty})
	opts := []Option{WithActions(p.Actions)}
	lease := p.Database.Lease("processing", p.Processing.Lease)
	if p.Database.Driver() == config.DriverPostgres {
		// Replicas share the database and take turns; a SQLite file is
		// one process's, which always processes.
		opts = append(opts, WithLease(lease))
	}
	proc := NewProcessor(p.Store, p.Normalizers, rules, p.Log, p.Metrics, opts...)
	// Hooks stop in reverse: the processor stops first (the delivery in
	// hand finishes), then the lease goes, so another replica takes over
	// at once.
	p.Lifecycle.Append(fx.StopHook(lease.Release))
	lifecycle.Go(p.Lifecycle, func(ctx context.Context) { proc.Run(ctx, p.Writer.Stored()) })
	return proc
}
