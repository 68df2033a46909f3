package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/router"
)

// BenchmarkDecide measures one acknowledgement on a record that already
// holds a storm of pages.
func BenchmarkDecide(b *testing.B) {
	for _, pages := range []int{1, 50} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			t := &testing.T{}
			w := newWorld()
			trigger := loadPayload(t, "incident.triggered.json")
			for i := range pages {
				w.apply(t, trigger.with(map[string]any{"id": fmt.Sprint("t", i), "data.id": fmt.Sprint("P", i)}).normalize(t))
			}
			ack := loadPayload(t, "incident.acknowledged.json").with(map[string]any{"data.id": "P0"}).normalize(t)
			owner := w.records[1]
			st := router.State{Owner: &owner}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				router.Decide(st, ack, rules, time.Time{})
			}
		})
	}
}
