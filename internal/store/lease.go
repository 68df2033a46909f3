package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is the right to do one kind of work that exactly one replica may
// do at a time: process deliveries in order, sweep GitHub for failed
// deliveries. On PostgreSQL it is a session advisory lock, named for the
// work and the schema, held on a connection of the lease's own: replicas
// take turns, and when the holder dies its connection ends and the lock
// with it, at once when the process is killed, and within the period when
// its machine or network vanish (TCP keepalives on that connection). On
// SQLite, whose database one process owns, the lease is always held.
type Lease struct {
	name   string
	period time.Duration
	config *pgx.ConnConfig // nil: SQLite

	mu      sync.Mutex
	conn    *pgx.Conn
	held    bool
	checked time.Time
}

// Lease returns the lease on work name; period bounds how long a vanished
// holder keeps it.
func (s *Store) Lease(name string, period time.Duration) *Lease {
	l := &Lease{name: name, period: period}
	if s.pool != nil {
		l.config = s.pool.Config().ConnConfig.Copy()
		// Dead-peer detection on the lease's connection: about 5/6 of the
		// period after the holder's last sign of life.
		idle, interval := max(period/3, time.Second), max(period/6, time.Second)
		l.config.RuntimeParams["tcp_keepalives_idle"] = strconv.Itoa(int(idle.Seconds()))
		l.config.RuntimeParams["tcp_keepalives_interval"] = strconv.Itoa(int(interval.Seconds()))
		l.config.RuntimeParams["tcp_keepalives_count"] = "3"
		l.config.RuntimeParams["application_name"] = "incidenthub " + name
	}
	return l
}

// Held reports whether this process holds the lease, taking it when it is
// free. A held lease is checked again at most every period/6, and a free
// one tried at most every retryFree, on the lease's one connection: asking
// before every delivery costs nothing, and a waiting replica never opens
// connections in a storm.
func (l *Lease) Held(ctx context.Context) (bool, error) {
	if l.config == nil {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	fresh := l.period / 6
	if !l.held {
		fresh = min(fresh, retryFree)
	}
	if !l.checked.IsZero() && now.Sub(l.checked) < fresh {
		return l.held, nil
	}
	l.checked = now
	if l.conn != nil && l.held {
		if err := l.conn.Ping(ctx); err == nil {
			return true, nil
		}
		// Lost: another replica may hold it by now.
		l.closeLocked()
	}
	if l.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, l.config)
		if err != nil {
			return false, fmt.Errorf("lease %s: %w", l.name, err)
		}
		l.conn = conn
	}
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, l.name).Scan(&l.held); err != nil {
		l.closeLocked()
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	return l.held, nil
}

// retryFree is how often a replica that waits tries to take the lease: a
// released lease (its holder stopped or was killed) is taken this soon.
const retryFree = 200 * time.Millisecond

// lockKey names an advisory lock for work $1 in the current schema, so
// that hubs sharing a server in separate schemas never wait on each other.
const lockKey = `hashtextextended(current_schema() || ':incidenthub.' || $1, 0)`

// Release gives the lease up, so that another replica takes over at once.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeLocked()
}

func (l *Lease) closeLocked() {
	l.held = false
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.conn.Close(ctx) // the lock ends with the session
		l.conn = nil
	}
}

// Exclusively runs fn while no other replica runs work name (PostgreSQL's
// advisory lock, waited for): for steps that must not run twice at once,
// such as River's migrations, which take no lock of their own.
func (s *Store) Exclusively(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.pool == nil {
		return fn(ctx)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the lock ends with the session
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, name); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fn(ctx)
}
