package store

import (
	"context"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
)

// Module provides the *Store: migrated on start (unless SkipMigrations),
// closed on stop.
var Module = fx.Module("store", fx.Provide(newForApp))

// SkipMigrations, supplied as true, makes the app check that the schema
// is current instead of migrating it (`serve --no-migrate`): migrations
// are then an explicit step of an upgrade, `incidenthub migrate`.
type SkipMigrations bool

// AppParams are the store's dependencies in an app.
type AppParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    config.Storage
	Skip      SkipMigrations `optional:"true"`
}

func newForApp(p AppParams) (*Store, error) {
	s, err := Open(p.Config)
	if err != nil {
		return nil, err
	}
	prepare := s.Migrate
	if p.Skip {
		prepare = s.CheckSchema
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: prepare,
		OnStop:  func(context.Context) error { return s.Close() },
	})
	return s, nil
}
