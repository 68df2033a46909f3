package delivery

import (
	"errors"
	"fmt"
)

// IgnoredError marks a delivery that is valid but means nothing to the hub
// (an event type it does not act on, a repository no service lists).
type IgnoredError struct{ Reason string }

func (e *IgnoredError) Error() string { return e.Reason }

// Ignored returns an *IgnoredError with a formatted reason.
func Ignored(format string, args ...any) error {
	return &IgnoredError{Reason: fmt.Sprintf(format, args...)}
}

// IsIgnored reports whether err marks an ignored delivery.
func IsIgnored(err error) bool {
	var ie *IgnoredError
	return errors.As(err, &ie)
}
