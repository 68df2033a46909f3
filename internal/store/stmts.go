package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the write database's statements prepared, by their
// text, so that processing does not parse the same SQL for every
// delivery: on SQLite, parsing was 30% of processing's CPU (modernc's
// driver prepares each query it is given anew). A transaction uses a
// cached statement through Tx.StmtContext, which reuses what SQLite's
// one writer connection already prepared. PostgreSQL needs none: pgx
// caches its statements itself, and this cache measured 6% slower there,
// so its store has none (nil).
//
// A statement is prepared between transactions (warm), never inside
// one: SQLite's one writer connection is the transaction's then, and
// preparing on the database would wait for it forever. So the first use
// of a statement runs unprepared and asks for it; the next transaction
// finds it ready.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

// maxCachedStmts bounds the cache: the store's fixed statements number a
// few dozen.
const maxCachedStmts = 128

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the prepared statement for query, or nil (run it
// unprepared) until warm has prepared it.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s
	}
	if len(c.m)+len(c.wanted) < maxCachedStmts {
		c.wanted[query] = true
	}
	return nil
}

// warm prepares the statements asked for since; call it outside any
// transaction of the write database. A statement that fails to prepare
// is not asked for again: it runs unprepared and reports its own error.
func (c *stmtCache) warm(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	queries := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		queries = append(queries, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	// Unlocked while preparing: a transaction elsewhere may hold the
	// connection this waits for, and must still reach the cache.
	for _, q := range queries {
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			s = nil
		}
		c.mu.Lock()
		if old, ok := c.m[q]; ok && old != nil {
			if s != nil {
				_ = s.Close()
			}
		} else {
			c.m[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.m {
		if s != nil {
			_ = s.Close()
		}
		delete(c.m, q)
	}
}

// ExecContext runs a fixed statement of the store in the transaction,
// prepared once. Statements whose text varies (a multi-row insert) use
// t.tx directly, so that they do not fill the cache.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmts.get(query); s != nil {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext is ExecContext for queries.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmts.get(query); s != nil {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext is ExecContext for one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmts.get(query); s != nil {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
