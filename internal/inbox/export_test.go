package inbox

import "context"

// Busy reports whether any of the budget's room is taken, so that a test
// can wait until a request holds it.
func Busy(b *Budget) bool {
	if b.sem.TryAcquire(b.max) {
		b.sem.Release(b.max)
		return false
	}
	return true
}

// Reserve is the budget's reserve, for its benchmark.
func Reserve(ctx context.Context, b *Budget, n int64) (release func(), err error) {
	return b.reserve(ctx, n)
}
