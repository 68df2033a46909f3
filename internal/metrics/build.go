package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// Build says what is running, for incidenthub_build_info.
type Build struct {
	Version, Commit string
}

// RegisterBuild adds incidenthub_build_info: always 1, its labels say
// which version and commit run, so that dashboards can tell replicas of
// different builds apart during an upgrade.
func (m *Metrics) RegisterBuild(b Build) {
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "incidenthub_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()},
	})
	info.Set(1)
	m.Registry.MustRegister(info)
}
