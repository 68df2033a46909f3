package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// BenchmarkProcess measures processing throughput on each store:
// deliveries stored ahead, then processed one transaction each
// (ProcessNext, as after a failure), or in batches as the running hub
// does (ProcessBatch), with storms of 20 pages, 200 or 2,000; ns/op is per
// delivery (synchronous=normal on SQLite; the per-delivery cost at full
// is dominated by the same fsync as intake).
func BenchmarkProcess(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		b.Run(driver, func(b *testing.B) { benchmarkProcess(b, driver, false, 20) })
		b.Run(driver+"-batched", func(b *testing.B) { benchmarkProcess(b, driver, true, 20) })
		// Storms of 200 and 2,000 pages: a delivery writes its own page,
		// so its cost should not grow with its storm (docs/performance.md).
		b.Run(driver+"-batched-storm200", func(b *testing.B) { benchmarkProcess(b, driver, true, 200) })
		b.Run(driver+"-batched-storm2000", func(b *testing.B) { benchmarkProcess(b, driver, true, 2000) })
	}
}

func benchmarkProcess(b *testing.B, driver string, batched bool, storm int) {
	bundle := setup(b, driver, nil)
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", "incident.escalated.json"))
	if err != nil {
		b.Fatal(err)
	}
	var payload map[string]map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		b.Fatal(err)
	}
	ds := make([]delivery.Delivery, b.N)
	for i := range ds {
		// Storms of storm pages each, so records grow as in real life.
		payload["event"]["id"] = fmt.Sprint("ev", i)
		payload["event"]["data"].(map[string]any)["id"] = fmt.Sprint("P", i)
		payload["event"]["data"].(map[string]any)["created_at"] = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i/storm) * time.Hour).Format(time.RFC3339)
		body, _ := json.Marshal(payload)
		ds[i] = delivery.Delivery{Source: incident.SourcePagerDuty, ID: fmt.Sprint("d", i), ReceivedAt: time.Now(), Body: body}
	}
	if _, err := bundle.store.AppendDeliveries(context.Background(), ds); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if batched {
		for {
			more, err := bundle.proc.ProcessBatch(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				return
			}
		}
	}
	for range b.N {
		if more, err := bundle.proc.ProcessNext(context.Background()); err != nil || !more {
			b.Fatal(more, err)
		}
	}
}
