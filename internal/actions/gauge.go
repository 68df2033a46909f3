package actions

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// JobGauge reports the jobs by kind and state at each scrape, so that a
// dashboard shows work piling up, held for credentials or rate-limited,
// and dead letters, without reading the log.
type JobGauge struct {
	db   Reader
	desc *prometheus.Desc
}

// Reader is where the gauge counts jobs.
type Reader interface {
	ReadDB() *sql.DB
	Driver() string
}

// NewJobGauge returns the collector of incidenthub_jobs.
func NewJobGauge(db Reader) *JobGauge {
	return &JobGauge{db: db, desc: prometheus.NewDesc("incidenthub_jobs",
		"Jobs by kind and state: queued, running, scheduled, held (its connector lacks configuration; reason says which), "+
			"rate_limited, retrying, failed (discarded or cancelled: `incidenthub actions list --failed`). Completed jobs are not counted.",
		[]string{"kind", "state", "reason"}, nil)}
}

// Describe implements prometheus.Collector.
func (g *JobGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector: one grouped query.
func (g *JobGauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// River keeps what a job recorded (actions.Waiting) under
	// metadata.output; only a scheduled job's says why it waits.
	held, limited := `json_extract(metadata, '$.output.held')`, `json_extract(metadata, '$.output.rate_limited')`
	if g.db.Driver() == "postgres" {
		held, limited = `metadata->'output'->>'held'`, `metadata->'output'->>'rate_limited'`
	}
	rows, err := g.db.ReadDB().QueryContext(ctx, fmt.Sprintf(`SELECT kind, state,
		CASE WHEN state = 'scheduled' THEN COALESCE(%s, '') ELSE '' END,
		CASE WHEN state = 'scheduled' THEN COALESCE(%s, '') ELSE '' END, count(*)
		FROM river_job WHERE state <> 'completed' GROUP BY 1, 2, 3, 4`, held, limited))
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, fmt.Errorf("count jobs: %w", err))
		return
	}
	defer rows.Close()
	type key struct{ kind, state, reason string }
	counts := map[key]float64{}
	for rows.Next() {
		var (
			kind, state, reason, limitedBy string
			n                              float64
		)
		if err := rows.Scan(&kind, &state, &reason, &limitedBy, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(g.desc, fmt.Errorf("count jobs: %w", err))
			return
		}
		counts[key{kind, gaugeState(state, reason, limitedBy), reason}] += n
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, fmt.Errorf("count jobs: %w", err))
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, n, k.kind, k.state, k.reason)
	}
}

// gaugeState names River's states as operators ask about them.
func gaugeState(state, held, limitedBy string) string {
	switch {
	case state == "available" || state == "pending":
		return "queued"
	case state == "retryable":
		return "retrying"
	case state == "discarded" || state == "cancelled":
		return "failed"
	case state == "scheduled" && held != "":
		return "held"
	case state == "scheduled" && limitedBy != "":
		return "rate_limited"
	}
	return state
}
