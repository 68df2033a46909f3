package pagerduty_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// BenchmarkNormalize measures parsing the captured deliveries every
// processor decides most: a trigger (a snapshot of the page) and a note
// (a reference to it).
func BenchmarkNormalize(b *testing.B) {
	for _, file := range []string{"incident.triggered.json", "incident.annotated.json"} {
		b.Run(file, func(b *testing.B) {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", file))
			if err != nil {
				b.Fatal(err)
			}
			d := delivery.Delivery{Source: incident.SourcePagerDuty, ID: "wh-1", Body: body}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (pagerduty.Normalizer{}).Normalize(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
