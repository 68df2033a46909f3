package inbox

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/semaphore"
)

// budgetWait is how long a request waits for room before it is answered
// 503: long enough to ride out a burst of large deliveries, short enough
// that a flood of forged ones turns into quick 503s, not piled-up
// connections.
const budgetWait = 2 * time.Second

// Budget bounds the webhook bytes held in memory at once, across every
// endpoint. A signature covers the whole body, so a forged delivery is
// only found out after it is read; without a bound, a few hundred
// concurrent forged requests at the body limit hold gigabytes.
//
// golang.org/x/sync/semaphore is FIFO: a large delivery waiting is not
// starved by a stream of small ones.
type Budget struct {
	sem *semaphore.Weighted
	max int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget {
	return &Budget{sem: semaphore.NewWeighted(max), max: max}
}

// errBusy: the bytes in flight are at the budget, and stayed there.
var errBusy = errors.New("intake.max_bytes_in_flight reached")

// reserve waits for n bytes of room, at most budgetWait, and returns
// their release.
func (b *Budget) reserve(ctx context.Context, n int64) (release func(), err error) {
	n = min(n, b.max)
	// Room at once (the usual case) needs no timer. TryAcquire fails
	// while others wait, so the order stays first come, first served.
	if b.sem.TryAcquire(n) {
		return func() { b.sem.Release(n) }, nil
	}
	ctx, cancel := context.WithTimeout(ctx, budgetWait)
	defer cancel()
	if err := b.sem.Acquire(ctx, n); err != nil {
		return func() {}, errBusy
	}
	return func() { b.sem.Release(n) }, nil
}
