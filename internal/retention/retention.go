// Package retention deletes what the hub keeps past its use: raw
// deliveries already processed, once retention.deliveries has passed.
package retention

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/lifecycle"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Pruning pace: small batches, so that each delete is a short write
// transaction between intake's commits, with a pause between them, and a
// bounded run, so that a backlog (the first run after an upgrade) is
// worked off over several runs rather than in one long stretch.
const (
	interval         = 10 * time.Minute
	batchSize        = 500
	batchPause       = 100 * time.Millisecond
	maxBatchesPerRun = 200
)

// pruned are the statuses whose raw deliveries have served their purpose.
// Unprocessable and failed ones wait for a person (`deliveries replay` or
// `deliveries purge`); pending and deferred ones are work still to do.
var pruned = []delivery.Status{delivery.StatusProcessed, delivery.StatusIgnored}

// Deleter deletes stored deliveries.
type Deleter interface {
	PruneDeliveries(ctx context.Context, f store.PruneFilter) (int64, error)
}

// Pruner deletes processed deliveries older than its retention.
type Pruner struct {
	store Deleter
	keep  time.Duration
	log   *slog.Logger
	now   func() time.Time
	pause time.Duration // between batches
}

// NewPruner returns a pruner that keeps deliveries for keep.
func NewPruner(s Deleter, keep time.Duration, log *slog.Logger) *Pruner {
	return &Pruner{store: s, keep: keep, log: log, now: time.Now, pause: batchPause}
}

// Prune deletes, in batches, processed and ignored deliveries received
// more than the retention ago, up to one run's worth, and returns how many.
func (p *Pruner) Prune(ctx context.Context) (int64, error) {
	before := p.now().Add(-p.keep)
	var total int64
	for range maxBatchesPerRun {
		n, err := p.store.PruneDeliveries(ctx, store.PruneFilter{ReceivedBefore: before, Statuses: pruned, Limit: batchSize})
		total += n
		// A batch may delete fewer than it chose (one replayed in
		// between): only an empty one means there is nothing left.
		if err != nil || n == 0 {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.pause):
		}
	}
	return total, nil
}

// Run prunes at once and then every interval until ctx ends, while this
// replica holds the lease on pruning.
func (p *Pruner) Run(ctx context.Context, lease lifecycle.Leader) {
	lifecycle.Periodically(ctx, interval, lease, p.log, func(ctx context.Context) {
		n, err := p.Prune(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("pruning deliveries stopped; the next round goes on", "err", err, "deleted", n)
		} else if n > 0 {
			p.log.Info("pruned processed deliveries", "deleted", n, "older_than", p.keep.String())
		}
	})
}

// Module prunes deliveries for the life of the app, on one replica at a
// time.
var Module = fx.Module("retention", fx.Invoke(start))

func start(lc fx.Lifecycle, cfg config.Retention, s *store.Store, log *slog.Logger) {
	log = log.With("component", "retention")
	if cfg.Deliveries == 0 {
		log.Info("processed deliveries are kept forever (retention.deliveries: 0)")
		return
	}
	p := NewPruner(s, cfg.Deliveries, log)
	lease := s.Lease("prune-deliveries", interval)
	lc.Append(fx.StopHook(lease.Release))
	lifecycle.Go(lc, func(ctx context.Context) { p.Run(ctx, lease) })
}
