package store

import (
	"context"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
)

// Module provides the *Store: migrated on start, closed on stop.
var Module = fx.Module("store", fx.Provide(newForApp))

func newForApp(lc fx.Lifecycle, cfg config.Storage) (*Store, error) {
	s, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: s.Migrate,
		OnStop:  func(context.Context) error { return s.Close() },
	})
	return s, nil
}
