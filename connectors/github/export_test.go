package github

import (
	"context"
	"time"
)

// SetGateSleep replaces a gate's wait between writes, for tests.
func SetGateSleep(g *WriteGate, sleep func(context.Context, time.Duration)) { g.sleep = sleep }

// SetIssuesSleep replaces the wait between writes, for tests.
func SetIssuesSleep(i *Issues, sleep func(context.Context, time.Duration)) { i.gate.sleep = sleep }
