package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/report"
	"github.com/incidenthub/incidenthub/internal/report/reporttest"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// manyFixtures repeats the fixture set n times, a day apart.
func manyFixtures(n int) []incident.Record {
	var out []incident.Record
	for i := range n {
		for _, r := range reporttest.Records() {
			r.ID = int64(len(out) + 1)
			r.OpenedAt = r.OpenedAt.Add(-time.Duration(i) * time.Hour)
			out = append(out, r)
		}
	}
	return out
}

// Computing a year of a busy team's incidents (8,000 records) is the
// report's own cost; reading them is BenchmarkLoad's.
func BenchmarkCompute(b *testing.B) {
	recs := manyFixtures(1000)
	o := report.Options{Since: reporttest.Since.AddDate(-1, 0, 0), Until: reporttest.Until, Now: reporttest.Until}
	b.ReportAllocs()
	for b.Loop() {
		report.Compute(recs, o)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/record")
}

// Reading 800 records with their timelines, changes and follow-ups from
// SQLite, and computing their report: what `incidenthub report` waits for.
func BenchmarkLoad(b *testing.B) {
	s := storetest.SQLite(b)
	ctx := context.Background()
	recs := manyFixtures(100)
	if err := s.Update(ctx, func(tx *store.Tx) error {
		for i := range recs {
			r := recs[i]
			r.ID = 0
			if err := tx.SaveRecord(ctx, &r, recs[i].Timeline); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	o := report.Options{Since: reporttest.Since.AddDate(-1, 0, 0), Until: reporttest.Until, Now: reporttest.Until}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := report.Load(ctx, s, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/record")
}
