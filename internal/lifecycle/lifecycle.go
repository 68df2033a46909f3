// Package lifecycle ties long-running goroutines to an fx app.
package lifecycle

import (
	"context"

	"go.uber.org/fx"
)

// Go runs fn in a goroutine from the app's start to its stop. fn gets a
// context of its own, never fx's start context (which ends with start-up,
// shared/NOTES-dependencies.md); stop cancels it and waits for fn to
// return, within the stop deadline, so nothing is left running.
func Go(lc fx.Lifecycle, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				fn(ctx)
			}()
			return nil
		},
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
}
