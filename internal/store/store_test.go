package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, driver)
		})
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, driver)
			require.NoError(t, s.Migrate(context.Background()))
			require.NoError(t, s.Ping(context.Background()))
		})
	}
}

func TestSQLiteRefusesMemory(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{":memory:", "file::memory:", "file:x.db?mode=memory", ""} {
		_, err := store.Open(config.Storage{Driver: config.DriverSQLite, DSN: dsn})
		require.Error(t, err, dsn)
	}
}
