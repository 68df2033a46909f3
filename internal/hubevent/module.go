package hubevent

import (
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module provides the *Reporter the connectors' jobs report through (the
// inbox's writer, so that a report wakes the processor) and the
// normaliser of hub events.
var Module = fx.Module("hubevent",
	fx.Provide(
		func(w *inbox.Writer, s *store.Store) *Reporter { return NewReporter(w, s) },
		func(r *Reporter) actions.FailureRecorder { return r },
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
	),
)
