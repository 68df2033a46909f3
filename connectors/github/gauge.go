package github

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store"
)

// maxCountedReviews bounds the records a scrape reads.
const maxCountedReviews = 10000

// reviewGauge reports the open review docs at each scrape: due, and past
// their due date, so that a team sees reviews slipping before the one
// reminder each gets.
type reviewGauge struct {
	store ReviewStore
	desc  *prometheus.Desc
	now   func() time.Time
}

func registerReviewGauge(m *metrics.Metrics, s ReviewStore) {
	m.Registry.MustRegister(&reviewGauge{store: s, now: time.Now, desc: prometheus.NewDesc("incidenthub_reviews",
		"Review docs open (the record is reviewing), by state: due (not yet past review.due_within) or overdue.",
		[]string{"state"}, nil)})
}

// Describe implements prometheus.Collector.
func (g *reviewGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *reviewGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	recs, err := g.store.Incidents(ctx, store.IncidentFilter{Status: incident.StatusReviewing, Limit: maxCountedReviews})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, fmt.Errorf("count reviews: %w", err))
		return
	}
	now := g.now()
	var due, overdue float64
	for _, r := range recs {
		if r.Kind == incident.KindDrill {
			continue // a drill's debrief is training, not a review
		}
		if !r.ReviewDue.IsZero() && now.After(r.ReviewDue) {
			overdue++
		} else {
			due++
		}
	}
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, due, "due")
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, overdue, "overdue")
}
