package inbox

import (
	"context"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module provides the *Writer, running for the life of the app, and the
// *Budget every endpoint reads bodies within.
var Module = fx.Module("inbox",
	fx.Provide(newForApp),
	fx.Provide(func(c config.Intake) *Budget { return NewBudget(c.MaxBytesInFlight) }),
	// The writer appends through the store.
	fx.Provide(fx.Private, func(s *store.Store) Appender { return s }),
)

var _ Appender = (*store.Store)(nil)

func newForApp(lc fx.Lifecycle, a Appender) *Writer {
	w := NewWriter(a)
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			// The start context ends with start-up; the writer outlives it.
			go w.Run(context.WithoutCancel(ctx))
			return nil
		},
		OnStop: func(context.Context) error {
			w.Close()
			return nil
		},
	})
	return w
}
