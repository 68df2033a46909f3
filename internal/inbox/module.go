package inbox

import (
	"context"

	"go.uber.org/fx"
)

// Module provides the *Writer, running for the life of the app.
var Module = fx.Module("inbox", fx.Provide(newForApp))

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
