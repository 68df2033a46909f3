package jira

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

// Module contributes the Jira webhook endpoint, its normaliser, and the
// job that files follow-up tickets.
var Module = fx.Module("jira",
	fx.Provide(
		fx.Annotate(routes, fx.ResultTags(`group:"routes,flatten"`)),
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
		fx.Annotate(Jobs, fx.ResultTags(`group:"jobs,flatten"`)),
	),
	fx.Provide(
		fx.Private,
		func(s *store.Store) FollowUpStore { return s },
		func(r *hubevent.Reporter) Reporter { return r },
	),
)

// Path is where Jira admin webhooks deliver.
const Path = "/webhooks/jira"

// MaxDeliveryBytes is the largest delivery Jira sends the hub, with room
// to spare: an issue event carries the fields, whose largest are
// the description and a comment (32,767 characters each, a few hundred KB
// escaped) and the changelog.
const MaxDeliveryBytes = 2 << 20

func routes(cfg config.Jira, intake config.Intake, budget *inbox.Budget, w *inbox.Writer, log *slog.Logger, m *metrics.Metrics) []httpserver.Route {
	if len(cfg.WebhookSecrets) == 0 {
		log.Warn("Jira webhooks are off: no jira.webhook_secrets configured", "path", Path)
		return nil
	}
	h := inbox.NewHandler(NewVerifier(cfg.WebhookSecrets), w, intake.BodyLimit(MaxDeliveryBytes), budget, log, m)
	return []httpserver.Route{{Pattern: "POST " + Path, Handler: h}}
}
