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
// columns (type family, nullability), named indexes and unique keys
// (primary keys included; SQLite's INTEGER PRIMARY KEY is the rowid,
// with no index of its own). A migration added
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
	require.Contains(t, lite, "unique deliveries (source, delivery_id)", "and its unique constraints, which dedupe rests on")
}

const sqliteSchema = `
SELECT 'table ' || m.name || ': ' || p.name || ' ' || lower(p.type) || CASE WHEN p."notnull" = 1 OR p.pk = 1 THEN ' not null' ELSE '' END
  FROM sqlite_master m, pragma_table_info(m.name) p
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'river_%' AND m.name <> 'goose_db_version'
UNION ALL
SELECT 'index ' || name || ' on ' || tbl_name FROM sqlite_master
 WHERE type = 'index' AND sql IS NOT NULL AND tbl_name NOT LIKE 'river_%'
UNION ALL
SELECT 'unique ' || m.name || ' (' || (SELECT group_concat(name, ', ') FROM (SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) || ')'
  FROM sqlite_master m, pragma_index_list(m.name) il
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'river_%' AND m.name <> 'goose_db_version'
   AND il."unique" = 1 AND il.partial = 0
UNION ALL
SELECT 'unique ' || m.name || ' (' || p.name || ')'
  FROM sqlite_master m, pragma_table_info(m.name) p
 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'river_%' AND m.name <> 'goose_db_version'
   AND p.pk = 1 AND lower(p.type) = 'integer'
   AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1`

const postgresSchema = `
SELECT 'table ' || table_name || ': ' || column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
  FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name NOT LIKE 'river_%' AND table_name <> 'goose_db_version'
UNION ALL
SELECT 'index ' || indexname || ' on ' || tablename FROM pg_indexes
 WHERE schemaname = current_schema() AND tablename NOT LIKE 'river_%' AND tablename <> 'goose_db_version'
   AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'
UNION ALL
SELECT 'unique ' || t.relname || ' (' || string_agg(a.attname, ', ' ORDER BY k.n) || ')'
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace ns ON ns.oid = t.relnamespace
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
 WHERE ns.nspname = current_schema() AND i.indisunique AND i.indpred IS NULL
   AND t.relname NOT LIKE 'river_%' AND t.relname <> 'goose_db_version'
 GROUP BY i.indexrelid, t.relname`

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
