package store_test

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// The two databases' migrations make the same schema: the same tables,
// columns (type family, nullability) and named indexes. A migration added
// to one folder and not the other fails here.
func TestSchemasMatch(t *testing.T) {
	t.Parallel()
	if len(storetest.Drivers()) < 2 {
		t.Skip(storetest.PostgresDSNVar + " is not set")
	}
	lite := describe(t, storetest.Open(t, config.DriverSQLite).WriteDB(), sqliteSchema)
	pg := describe(t, storetest.Open(t, config.DriverPostgres).WriteDB(), postgresSchema)
	require.Equal(t, lite, pg)
	require.Contains(t, lite, "table deliveries: seq integer not null", "the description reads the schema")
}

const sqliteSchema = `
SELECT 'table ' || m.name || ': ' || p.name || ' ' || lower(p.type) || CASE WHEN p."notnull" = 1 OR p.pk = 1 THEN ' not null' ELSE '' END
  FROM sqlite_master m, pragma_table_info(m.name) p
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'river_%' AND m.name <> 'goose_db_version'
UNION ALL
SELECT 'index ' || name || ' on ' || tbl_name FROM sqlite_master
 WHERE type = 'index' AND sql IS NOT NULL AND tbl_name NOT LIKE 'river_%'`

const postgresSchema = `
SELECT 'table ' || table_name || ': ' || column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
  FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name NOT LIKE 'river_%' AND table_name <> 'goose_db_version'
UNION ALL
SELECT 'index ' || indexname || ' on ' || tablename FROM pg_indexes
 WHERE schemaname = current_schema() AND tablename NOT LIKE 'river_%' AND tablename <> 'goose_db_version'
   AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'`

// describe lists a schema's lines with types folded to a family: SQLite
// and PostgreSQL name the same storage differently.
func describe(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	family := strings.NewReplacer(" bigint", " integer", " blob", " bytes", " bytea", " bytes")
	var out []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		out = append(out, family.Replace(line))
	}
	require.NoError(t, rows.Err())
	sort.Strings(out)
	return out
}
