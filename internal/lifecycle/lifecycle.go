// Package lifecycle ties long-running goroutines to an fx app.
package lifecycle

import (
	"context"
	"log/slog"
	"time"

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

// Leader is the lease on work one replica does at a time.
type Leader interface {
	Held(ctx context.Context) (bool, error)
}

// Periodically runs fn at once and then every interval until ctx ends,
// each time this replica holds lease: periodic work that one replica
// does at a time (the GitHub sweeper, pruning). A lease that cannot be
// asked about is logged, and the next round asks again.
func Periodically(ctx context.Context, interval time.Duration, lease Leader, log *slog.Logger, fn func(context.Context)) {
	for {
		if held, err := lease.Held(ctx); err != nil && ctx.Err() == nil {
			log.Warn("cannot take the lease; the next round retries", "err", err)
		} else if held {
			fn(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
