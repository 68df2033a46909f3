package jira

import (
	"log/slog"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
)

// Module contributes the Jira webhook endpoint, its normaliser, and the
// worker that files follow-up tickets.
var Module = fx.Module("jira",
	fx.Provide(
		fx.Annotate(routes, fx.ResultTags(`group:"routes,flatten"`)),
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
		fx.Annotate(fileWorkers, fx.ResultTags(`group:"workers"`)),
	),
)

// fileWorkers registers the filing worker, held (with the reason in the
// log) until the Jira site and its credentials are configured.
func fileWorkers(cfg *config.Config, s FollowUpStore, log *slog.Logger) (func(*river.Workers), error) {
	var tracker Tracker
	if held := FollowUpsHeld(cfg.Jira); held != "" {
		log.Warn("Jira follow-up tickets are held until configured", "reason", held)
	} else {
		client, err := NewClient(cfg.Jira, httpclient.New(httpclient.Options{Logger: log}))
		if err != nil {
			return nil, err
		}
		tracker = NewTickets(client)
	}
	w := NewFileWorker(cfg, tracker, s, log)
	return func(ws *river.Workers) { river.AddWorker(ws, w) }, nil
}

// Path is where Jira admin webhooks deliver.
const Path = "/webhooks/jira"

func routes(cfg config.Jira, intake config.Intake, w *inbox.Writer, log *slog.Logger, m *metrics.Metrics) []httpserver.Route {
	if len(cfg.WebhookSecrets) == 0 {
		log.Warn("Jira webhooks are off: no jira.webhook_secrets configured", "path", Path)
		return nil
	}
	h := inbox.NewHandler(NewVerifier(cfg.WebhookSecrets), w, intake.MaxBodyBytes, log, m)
	return []httpserver.Route{{Pattern: "POST " + Path, Handler: h}}
}
