package jira_test

import (
	"testing"

	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// BenchmarkNormalize measures parsing the captured issue_created delivery
// (10 KB, with custom fields the hub skips).
func BenchmarkNormalize(b *testing.B) {
	body := fixture(&testing.T{}, "jira_issue_created.json", nil)
	d := delivery.Delivery{Source: incident.SourceJira, ID: "wh-1", Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (jira.Normalizer{}).Normalize(d); err != nil {
			b.Fatal(err)
		}
	}
}
