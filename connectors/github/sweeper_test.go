package github_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// storedGUIDs stands in for the hub's inbox.
type storedGUIDs map[string]bool

func (s storedGUIDs) Delivery(_ context.Context, _ incident.Source, id string) (delivery.Delivery, error) {
	if s[id] {
		return delivery.Delivery{ID: id}, nil
	}
	return delivery.Delivery{}, store.ErrNotFound
}

func TestSweeperRedeliversWhatTheHubMissed(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	fake.PageSize = 2 // exercise the cursor pagination
	now := time.Now()
	repo := githubtest.RepoHook("acme/payments", 7)
	org := githubtest.OrgHook("acme", 9)
	add := func(hook, guid string, code int, ago time.Duration) {
		fake.Add(hook, githubtest.Delivery{GUID: guid, Event: "deployment_status", StatusCode: code, DeliveredAt: now.Add(-ago)})
	}
	add(repo, "missed", 503, time.Hour)           // the hub was down: redeliver
	add(repo, "stored-anyway", 0, 50*time.Minute) // GitHub timed out, but the hub stored it
	add(repo, "recovered", 502, 40*time.Minute)   // failed, then a redelivery got through
	add(repo, "recovered", 202, 35*time.Minute)   //
	add(repo, "ok", 202, 30*time.Minute)          // fine from the start
	add(repo, "too-old", 500, 80*time.Hour)       // beyond GitHub's three days
	add(repo, "hopeless", 401, 3*time.Hour)       // refused three times: left alone
	add(repo, "hopeless", 401, 2*time.Hour)       //
	add(repo, "hopeless", 401, 90*time.Minute)    //
	add(org, "org-missed", 504, 20*time.Minute)   // organisation hooks too

	var slept []time.Duration
	gate := github.NewWriteGate()
	github.SetGateSleep(gate, func(_ context.Context, d time.Duration) { slept = append(slept, d) })
	s := github.NewSweeper(fake.Client(t), nil, []config.Hook{{Repo: "acme/payments", ID: 7}, {Org: "acme", ID: 9}},
		storedGUIDs{"stored-anyway": true}, gate, slog.New(slog.DiscardHandler))

	res, err := s.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"missed", "org-missed"}, fake.Redelivered())
	require.Equal(t, github.SweepResult{Redelivered: 2, GivenUp: 1}, res)
	// The second write waited out the rest of the second since the first.
	require.Len(t, slept, 1, "writes at least a second apart")
	require.Positive(t, slept[0])
	require.LessOrEqual(t, slept[0], time.Second)

	var lists int
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r, "GET /repos/acme/payments/hooks/7/deliveries") {
			lists++
		}
	}
	require.Greater(t, lists, 1, "followed the cursor across pages")
}

// The next sweep does not ask again for what was redelivered successfully.
func TestSweeperIsIdempotentAcrossSweeps(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	fake.Add(githubtest.RepoHook("acme/payments", 7), githubtest.Delivery{GUID: "g", Event: "push", StatusCode: 500, DeliveredAt: time.Now()})
	s := github.NewSweeper(fake.Client(t), nil, []config.Hook{{Repo: "acme/payments", ID: 7}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	for range 3 {
		_, err := s.Sweep(context.Background())
		require.NoError(t, err)
	}
	require.Equal(t, []string{"g"}, fake.Redelivered())
}

// A redelivery that fails again is retried by later sweeps, up to the bound.
func TestSweeperBoundsRetries(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	fake.RedeliveryStatus = http.StatusServiceUnavailable
	fake.Add(githubtest.RepoHook("acme/payments", 7), githubtest.Delivery{GUID: "g", Event: "push", StatusCode: 503, DeliveredAt: time.Now()})
	s := github.NewSweeper(fake.Client(t), nil, []config.Hook{{Repo: "acme/payments", ID: 7}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	for range 5 {
		_, err := s.Sweep(context.Background())
		require.NoError(t, err)
	}
	require.Equal(t, []string{"g", "g"}, fake.Redelivered(), "three attempts in all, then left alone")
}

// At GitHub's rate limit the sweep stops and says why.
func TestSweeperStopsAtTheRateLimit(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	fake.RateLimited = true
	s := github.NewSweeper(fake.Client(t), nil, []config.Hook{{Repo: "a/b", ID: 1}, {Repo: "c/d", ID: 2}}, storedGUIDs{}, noWait(), slog.New(slog.DiscardHandler))
	_, err := s.Sweep(context.Background())
	require.ErrorContains(t, err, "rate limit")
	require.Len(t, fake.Requests(), 1, "the limit is per token: no further calls")
}

func noWait() *github.WriteGate {
	g := github.NewWriteGate()
	github.SetGateSleep(g, func(context.Context, time.Duration) {})
	return g
}
