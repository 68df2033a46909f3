package retention

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/store"
)

// batches deletes at most what it has left, recording what it was asked.
type batches struct {
	left  int64
	asked []store.PruneFilter
}

func (b *batches) PruneDeliveries(_ context.Context, f store.PruneFilter) (int64, error) {
	b.asked = append(b.asked, f)
	n := min(b.left, int64(f.Limit))
	b.left -= n
	return n, nil
}

// Pruning works off what is past retention in small batches, only
// processed and ignored deliveries, and stops when a batch comes short.
func TestPruneInBatches(t *testing.T) {
	t.Parallel()
	b := &batches{left: 2*batchSize + 3}
	p := NewPruner(b, 30*24*time.Hour, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	n, err := p.Prune(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2*batchSize+3, n)
	require.Len(t, b.asked, 4, "until a batch finds nothing")
	for _, f := range b.asked {
		require.Equal(t, now.Add(-30*24*time.Hour), f.ReceivedBefore)
		require.Equal(t, []delivery.Status{delivery.StatusProcessed, delivery.StatusIgnored}, f.Statuses)
		require.Equal(t, batchSize, f.Limit)
	}
}

// A backlog is worked off over several runs, never in one long stretch.
func TestPruneRunIsBounded(t *testing.T) {
	t.Parallel()
	b := &batches{left: 1 << 40}
	p := NewPruner(b, time.Hour, slog.New(slog.DiscardHandler))
	p.pause = 0
	n, err := p.Prune(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, maxBatchesPerRun*batchSize, n)
	require.Len(t, b.asked, maxBatchesPerRun)
}
