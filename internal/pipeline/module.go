package pipeline

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
)

// Module runs the *Processor for the life of the app.
var Module = fx.Module("pipeline",
	fx.Provide(newForApp),
	fx.Invoke(func(*Processor) {}),
)

// Params are the processor's dependencies in an app.
type Params struct {
	fx.In

	Lifecycle   fx.Lifecycle
	Config      *config.Config
	Store       Store
	Normalizers []Normalizer `group:"normalizers"`
	Writer      *inbox.Writer
	Log         *slog.Logger
	Metrics     *metrics.Metrics
}

func newForApp(p Params) *Processor {
	proc := NewProcessor(p.Store, p.Normalizers, RulesFrom(p.Config), p.Log, p.Metrics)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				proc.Run(ctx, p.Writer.Stored())
			}()
			return nil
		},
		// Stop takes no new delivery; the one in hand finishes first.
		OnStop: func(stopCtx context.Context) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-stopCtx.Done():
				return stopCtx.Err()
			}
		},
	})
	return proc
}
