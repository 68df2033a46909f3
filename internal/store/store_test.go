package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
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

// A batch whose bodies one PostgreSQL statement cannot hold is stored in
// several, in its order, and a repeat in a later one is a duplicate.
// Not parallel: it lowers the limit for the package.
func TestPostgresBatchTooLargeForOneStatement(t *testing.T) {
	if os.Getenv(storetest.PostgresDSNVar) == "" {
		t.Skip(storetest.PostgresDSNVar + " is not set")
	}
	defer store.SetMaxBodiesPerStatement(20)()
	s := storetest.Open(t, config.DriverPostgres)
	ctx := context.Background()
	var ds []delivery.Delivery
	for i := range 4 {
		ds = append(ds, delivery.Delivery{Source: incident.SourcePagerDuty, ID: fmt.Sprint("d", i),
			ReceivedAt: time.Unix(0, 0), Body: fmt.Appendf(nil, "body-%03d", i)})
	}
	again := ds[1]
	again.Body = []byte("later-01")
	ds = append(ds, again)

	fresh, err := s.AppendDeliveries(ctx, ds) // 40 bytes: split 2 + 3, then 1 + 2
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, true, true, false}, fresh)
	var seqs []int64
	for i := range 4 {
		got, err := s.Delivery(ctx, incident.SourcePagerDuty, ds[i].ID)
		require.NoError(t, err)
		require.Equal(t, string(ds[i].Body), string(got.Body), "the first body is kept")
		seqs = append(seqs, got.Seq)
	}
	require.True(t, slices.IsSorted(seqs), "numbered in the batch's order: %v", seqs)
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
