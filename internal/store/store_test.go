package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(config.Storage{
		Driver: config.DriverSQLite, DSN: "file:" + filepath.Join(t.TempDir(), "hub.db"), Synchronous: "normal",
	})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	s := openSQLite(t)
	require.NoError(t, s.Migrate(context.Background()))
	require.NoError(t, s.Ping(context.Background()))
}

func TestSQLiteRefusesMemory(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{":memory:", "file::memory:", "file:x.db?mode=memory", ""} {
		_, err := store.Open(config.Storage{Driver: config.DriverSQLite, DSN: dsn})
		require.Error(t, err, dsn)
	}
}
