// Package store keeps incident records, their timelines and the inbox of
// deliveries in SQL. The queries are written once, with $N placeholders,
// for SQLite (embedded, the default) and PostgreSQL (through pgx), and one
// conformance suite (storetest) runs on both.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite" // the pure-Go "sqlite" driver, and its errors
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/incidenthub/incidenthub/config"
)

//go:embed migrations
var migrations embed.FS

// ErrNotFound is returned when a record or delivery does not exist.
var ErrNotFound = errors.New("not found")

// Store is the hub's database.
type Store struct {
	// write has a single connection: SQLite allows one writer at a time,
	// and queueing in database/sql beats spinning on SQLITE_BUSY.
	write *sql.DB
	// read serves queries concurrently with the writer (WAL readers).
	read    *sql.DB
	dialect goose.Dialect
	// migrations names the folder under migrations/ for this database.
	migrations string
	// pool is PostgreSQL's connection pool, under both write and read.
	pool *pgxpool.Pool
	// stmts are the processing transactions' statements, prepared once
	// (SQLite only; nil on PostgreSQL).
	stmts *stmtCache
	// pages are records' pages kept across processing transactions.
	pages *pageCache
	now   func() time.Time
}

// Open opens the database that cfg names. Migrate must run before use.
func Open(cfg config.Storage) (*Store, error) {
	switch cfg.Driver {
	case config.DriverSQLite:
		return openSQLite(cfg)
	case config.DriverPostgres:
		return openPostgres(cfg)
	default:
		return nil, fmt.Errorf("store: driver %q is not available in this build", cfg.Driver)
	}
}

func openSQLite(cfg config.Storage) (*Store, error) {
	path, query, err := sqlitePath(cfg.DSN)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); path != "" && dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	sync := strings.ToUpper(cfg.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	pragmas := func(extra ...string) string {
		q := url.Values{}
		for k, vs := range query {
			q[k] = vs
		}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "foreign_keys(1)")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Add(k, v)
		}
		return "file:" + path + "?" + q.Encode()
	}
	write, err := sql.Open("sqlite", pragmas("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", pragmas("_pragma=query_only(1)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	read.SetMaxOpenConns(4)
	return &Store{write: write, read: read, stmts: newStmtCache(write), pages: newPageCache(maxCachedPages),
		dialect: goose.DialectSQLite3, migrations: "sqlite", now: time.Now}, nil
}

// sqlitePath splits a DSN such as file:data/hub.db?mode=rwc into the file
// path and its query. In-memory databases are refused: the writer and the
// readers use separate connections and would see different databases.
func sqlitePath(dsn string) (string, url.Values, error) {
	rest := strings.TrimPrefix(dsn, "file:")
	path, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("store: dsn query: %w", err)
	}
	if path == "" || path == ":memory:" || q.Get("mode") == "memory" {
		return "", nil, errors.New("store: sqlite needs a file (in-memory databases are not supported)")
	}
	return path, q, nil
}

// openPostgres opens a pgx pool. The store's queries and River's go
// through database/sql over that pool (pgx's stdlib), so that River
// inserts jobs in the store's own *sql.Tx, on either database. Unlike
// SQLite, PostgreSQL takes concurrent writers: write and read are one
// pool, sized by the DSN's pool_max_conns (pgx's default: the larger of 4
// and the number of CPUs).
func openPostgres(cfg config.Storage) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: storage.dsn: %w", err)
	}
	// The pool connects lazily: a database that is down at start-up makes
	// the hub unready (503), not unable to start.
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &Store{write: db, read: db, pool: pool, pages: newPageCache(maxCachedPages),
		dialect: goose.DialectPostgres, migrations: "postgres", now: time.Now}, nil
}

// Driver names the database: sqlite or postgres.
func (s *Store) Driver() string {
	if s.pool != nil {
		return config.DriverPostgres
	}
	return config.DriverSQLite
}

// ErrSchemaBehind is returned by CheckSchema when migrations are pending.
var ErrSchemaBehind = errors.New("the database schema is not current: run `incidenthub migrate` or start the hub")

func (s *Store) migrator() (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations/"+s.migrations)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	if s.pool != nil {
		// Replicas starting together migrate one at a time: the others
		// wait on PostgreSQL's advisory lock, then find nothing to do.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(s.dialect, s.write, dir, opts...)
}

// Migrate applies the embedded migrations that are not yet applied.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrator()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// CheckSchema reports ErrSchemaBehind when migrations are pending, for
// commands that use a database a running hub owns and must not migrate
// it (they read records; export also keeps pseudonyms).
func (s *Store) CheckSchema(ctx context.Context) error {
	p, err := s.migrator()
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if pending {
		return ErrSchemaBehind
	}
	return nil
}

// WriteDB is the single writer connection, shared with the job queue so
// that jobs are inserted in the store's own transactions.
func (s *Store) WriteDB() *sql.DB { return s.write }

// ReadDB is where the store reads: SQLite's reader pool (never the one
// writer), or PostgreSQL's pool. Gauges read through it.
func (s *Store) ReadDB() *sql.DB { return s.read }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the connections.
func (s *Store) Close() error {
	s.stmts.close()
	if s.pool != nil {
		err := s.write.Close()
		s.pool.Close()
		return err
	}
	return errors.Join(s.write.Close(), s.read.Close())
}

// millis stores a time as unix milliseconds; the zero time is NULL.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// Permanent reports an error that doing the same again cannot cure: the
// data broke a constraint or was refused as data (PostgreSQL's classes 22
// and 23; SQLite's constraint, size and type errors). Processing retries
// such a delivery a bounded number of times, as a bug, rather than
// stalling every delivery behind it.
func Permanent(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
			return true
		}
	}
	return false
}
