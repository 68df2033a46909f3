package inbox

// Busy reports whether any of the budget's room is taken, so that a test
// can wait until a request holds it.
func Busy(b *Budget) bool {
	if b.sem.TryAcquire(b.max) {
		b.sem.Release(b.max)
		return false
	}
	return true
}
