package pagerduty

import (
	"log/slog"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
)

// Module contributes the PagerDuty webhook endpoint and normaliser.
var Module = fx.Module("pagerduty",
	fx.Provide(
		fx.Annotate(routes, fx.ResultTags(`group:"routes,flatten"`)),
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
		fx.Annotate(noteWorkers, fx.ResultTags(`group:"workers"`)),
	),
)

// noteWorkers registers the note worker, held until credentials are set.
func noteWorkers(cfg config.PagerDuty, s NoteStore, log *slog.Logger) func(*river.Workers) {
	w := NewNoteWorker(cfg, s, log)
	if w.held != "" {
		log.Warn("PagerDuty notes are held until configured", "reason", w.held)
	}
	return func(ws *river.Workers) { river.AddWorker(ws, w) }
}

// Path is where PagerDuty v3 webhook subscriptions deliver.
const Path = "/webhooks/pagerduty"

func routes(cfg config.PagerDuty, intake config.Intake, w *inbox.Writer, log *slog.Logger, m *metrics.Metrics) []httpserver.Route {
	if len(cfg.WebhookSecrets) == 0 {
		log.Warn("PagerDuty webhooks are off: no pagerduty.webhook_secrets configured", "path", Path)
		return nil
	}
	h := inbox.NewHandler(NewVerifier(cfg.WebhookSecrets), w, intake.MaxBodyBytes, log, m)
	return []httpserver.Route{{Pattern: "POST " + Path, Handler: h}}
}
