// Package store keeps incident records, their timelines and the inbox of
// deliveries in SQL. The queries are written once, with $N placeholders,
// for SQLite (embedded, the default) and PostgreSQL.
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

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

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
	now        func() time.Time
}

// Open opens the database that cfg names. Migrate must run before use.
func Open(cfg config.Storage) (*Store, error) {
	switch cfg.Driver {
	case config.DriverSQLite:
		return openSQLite(cfg)
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
	return &Store{write: write, read: read, dialect: goose.DialectSQLite3, migrations: "sqlite", now: time.Now}, nil
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

// ErrSchemaBehind is returned by CheckSchema when migrations are pending.
var ErrSchemaBehind = errors.New("the database schema is not current: run `incidenthub migrate` or start the hub")

func (s *Store) migrator() (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations/"+s.migrations)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(s.dialect, s.write, dir)
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
// commands that read a database a running hub owns and must not change it.
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

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes both pools.
func (s *Store) Close() error {
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
