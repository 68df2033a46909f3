package store

// SetMaxBodiesPerStatement lowers the bodies one PostgreSQL insert takes,
// until the returned function restores it. Not for parallel tests.
func SetMaxBodiesPerStatement(n int) (restore func()) {
	before := maxBodiesPerStatement
	maxBodiesPerStatement = n
	return func() { maxBodiesPerStatement = before }
}
