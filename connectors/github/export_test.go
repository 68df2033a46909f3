package github

import (
	"context"
	"time"
)

// SetSleep replaces the sweeper's wait between writes, for tests.
func SetSleep(s *Sweeper, sleep func(context.Context, time.Duration)) { s.sleep = sleep }
