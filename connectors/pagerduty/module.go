package pagerduty

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module contributes the PagerDuty webhook endpoint, its normaliser, and
// the job that adds notes to pages.
var Module = fx.Module("pagerduty",
	fx.Provide(
		fx.Annotate(routes, fx.ResultTags(`group:"routes,flatten"`)),
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
		fx.Annotate(Jobs, fx.ResultTags(`group:"jobs,flatten"`)),
	),
	fx.Provide(
		fx.Private,
		func(s *store.Store) NoteStore { return s },
		func(s *store.Store) ChangeStore { return s },
		func(r *hubevent.Reporter) Reporter { return r },
	),
)

// Path is where PagerDuty v3 webhook subscriptions deliver.
const Path = "/webhooks/pagerduty"

// MaxDeliveryBytes is the largest delivery PagerDuty sends, with room to
// spare: a v3 webhook carries a reference to the incident, not its log,
// and its largest field is a note (at most 25,000 characters, six bytes
// each when JSON-escaped), so bodies stay under 200 KB.
const MaxDeliveryBytes = 512 << 10

func routes(cfg config.PagerDuty, intake config.Intake, budget *inbox.Budget, w *inbox.Writer, log *slog.Logger, m *metrics.Metrics) []httpserver.Route {
	if len(cfg.WebhookSecrets) == 0 {
		log.Warn("PagerDuty webhooks are off: no pagerduty.webhook_secrets configured", "path", Path)
		return nil
	}
	h := inbox.NewHandler(NewVerifier(cfg.WebhookSecrets), w, intake.BodyLimit(MaxDeliveryBytes), budget, log, m)
	return []httpserver.Route{{Pattern: "POST " + Path, Handler: h}}
}
