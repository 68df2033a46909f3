package store

import (
	"context"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
)

// Module provides the *Store: migrated on start, closed on stop.
var Module = fx.Module("store", fx.Provide(
	newForApp,
	// The inbox's writer appends through the store.
	func(s *Store) inbox.Appender { return s },
))

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
