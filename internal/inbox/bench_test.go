package inbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// BenchmarkAppend compares the group-commit writer with a transaction per
// delivery, for concurrent webhook deliveries at synchronous=FULL (the
// default durability: an answered delivery survives power loss).
func BenchmarkAppend(b *testing.B) {
	body := make([]byte, 2048)
	for _, sync := range []string{"full", "normal"} {
		b.Run("per-request/sync="+sync, func(b *testing.B) {
			s := openBenchStore(b, sync)
			var n atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := delivery.Delivery{Source: incident.SourcePagerDuty, ID: fmt.Sprint(n.Add(1)), ReceivedAt: time.Now(), Body: body}
					if _, err := s.AppendDeliveries(context.Background(), []delivery.Delivery{d}); err != nil {
						b.Error(err)
					}
				}
			})
		})
		b.Run("group-commit/sync="+sync, func(b *testing.B) {
			s := openBenchStore(b, sync)
			w := inbox.NewWriter(s)
			go w.Run(context.Background())
			defer w.Close()
			var n atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := delivery.Delivery{Source: incident.SourcePagerDuty, ID: fmt.Sprint(n.Add(1)), ReceivedAt: time.Now(), Body: body}
					if _, err := w.Append(context.Background(), d); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

func openBenchStore(b *testing.B, sync string) *store.Store {
	b.Helper()
	s, err := store.Open(config.Storage{Driver: "sqlite", DSN: "file:" + filepath.Join(b.TempDir(), "hub.db"), Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkBudgetReserve is the budget's cost to a delivery that finds
// room at once, as nearly every one does: reserve and release.
func BenchmarkBudgetReserve(b *testing.B) {
	budget := inbox.NewBudget(64 << 20)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, err := inbox.Reserve(ctx, budget, 1650)
			if err != nil {
				b.Error(err)
				return
			}
			release()
		}
	})
}
