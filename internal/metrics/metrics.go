// Package metrics holds the hub's Prometheus collectors on a registry of
// its own, so that tests and several apps in one process never collide.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
)

// Module provides *Metrics.
var Module = fx.Module("metrics", fx.Provide(New))

// Metrics are the collectors the hub updates.
type Metrics struct {
	Registry *prometheus.Registry
	// Deliveries counts webhook deliveries by source and outcome: at
	// intake (stored, duplicate, conflict, unauthorized, too_large, busy, unread, unavailable) and
	// after processing (processed, ignored, unprocessable, deferred, failed).
	Deliveries *prometheus.CounterVec
	// ActionsFailed counts jobs that failed for good, by job kind.
	ActionsFailed *prometheus.CounterVec
	// ProcessingLag is the time from receipt to the end of processing.
	ProcessingLag *prometheus.HistogramVec
	// IncidentsOpened counts new records by service and severity.
	IncidentsOpened *prometheus.CounterVec
}

// New registers the collectors on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidenthub_deliveries_total",
			Help: "Webhook deliveries by source and outcome.",
		}, []string{"source", "outcome"}),
		ProcessingLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "incidenthub_processing_lag_seconds",
			Help:    "Time from receiving a delivery to the end of its processing.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"source"}),
		ActionsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidenthub_actions_failed_total",
			Help: "Jobs that failed for good (refused, or out of attempts), by kind; `incidenthub actions list --failed` lists them.",
		}, []string{"kind"}),
		IncidentsOpened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidenthub_incidents_opened_total",
			Help: "Incident records opened, by service and severity.",
		}, []string{"service", "severity"}),
	}
	m.Registry.MustRegister(m.Deliveries, m.ProcessingLag, m.IncidentsOpened, m.ActionsFailed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
