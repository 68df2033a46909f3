package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// GitHub keeps hook deliveries for redelivery for three days and does not
// retry failed ones itself.
// https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
const redeliveryWindow = 72 * time.Hour

// Sweeper limits: bounded, serial work within GitHub's rate limits.
const (
	// maxAttempts: a GUID that failed this often (the first delivery and
	// redeliveries, as GitHub lists them) is left alone, so that a
	// delivery the hub keeps refusing (a wrong secret) cannot loop.
	maxAttempts = 3
	// maxRedeliveriesPerSweep bounds one sweep's writes.
	maxRedeliveriesPerSweep = 50
	// maxPages bounds one hook's listing (100 deliveries a page).
	maxPages = 20
	// writeSpacing: GitHub asks integrations to make writes serially, at
	// least one second apart.
	// https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
	writeSpacing = time.Second
)

// DeliveryLookup tells whether the hub has stored a delivery.
type DeliveryLookup interface {
	Delivery(ctx context.Context, source incident.Source, id string) (delivery.Delivery, error)
}

// Sweeper asks GitHub to redeliver the failed deliveries of the configured
// hooks that the hub never stored.
type Sweeper struct {
	client *gh.Client
	// app authenticates as the GitHub App, for its own webhook; nil
	// without one.
	app    *gh.Client
	hooks  []config.Hook
	stored DeliveryLookup
	log    *slog.Logger
	now    func() time.Time
	gate   *WriteGate
	// noAppHook: GitHub said the App has no webhook, once.
	noAppHook bool
}

// NewSweeper returns a sweeper over the client; its redeliveries go
// through gate, shared with every other GitHub write of the token.
func NewSweeper(client, app *gh.Client, hooks []config.Hook, stored DeliveryLookup, gate *WriteGate, log *slog.Logger) *Sweeper {
	return &Sweeper{
		client: client, app: app, hooks: hooks, stored: stored, now: time.Now, gate: gate,
		log: log.With("component", "github-sweeper"),
	}
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Redelivered int
	// GivenUp counts failed deliveries left alone after maxAttempts.
	GivenUp int
}

// attempts is what GitHub lists for one delivery GUID.
type attempts struct {
	guid      string
	latestID  int64
	latestAt  time.Time
	count     int
	succeeded bool
	event     string
}

// Sweep goes through every configured hook once.
func (s *Sweeper) Sweep(ctx context.Context) (SweepResult, error) {
	var (
		res  SweepResult
		errs []error
	)
	for _, h := range s.hooks {
		if err := s.sweepHook(ctx, h, &res); err != nil {
			errs = append(errs, fmt.Errorf("hook %s: %w", hookName(h), err))
			if isRateLimit(err) {
				break // the limit is per token: the other hooks would hit it too
			}
		}
	}
	return res, errors.Join(errs...)
}

func (s *Sweeper) sweepHook(ctx context.Context, h config.Hook, res *SweepResult) error {
	failed, err := s.failedDeliveries(ctx, h)
	var notFound *gh.ErrorResponse
	if h.App && errors.As(err, &notFound) && notFound.Response != nil && notFound.Response.StatusCode == http.StatusNotFound {
		// An App need not have a webhook (its events may come through
		// hooks listed in github.hooks): nothing to sweep, said once.
		if !s.noAppHook {
			s.noAppHook = true
			s.log.Info("the GitHub App has no webhook deliveries to sweep (no webhook is set up)")
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, a := range failed {
		if res.Redelivered >= maxRedeliveriesPerSweep {
			return nil
		}
		_, err := s.stored.Delivery(ctx, incident.SourceGitHub, a.guid)
		if err == nil {
			continue // stored after all (an earlier redelivery got through)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if a.count >= maxAttempts {
			res.GivenUp++
			s.log.Warn("failed delivery left alone after repeated attempts; check the hook's secret and URL",
				"hook", hookName(h), "guid", a.guid, "event", a.event, "attempts", a.count)
			continue
		}
		if err := s.redeliver(ctx, h, a.latestID); err != nil {
			return fmt.Errorf("redeliver %s: %w", a.guid, err)
		}
		res.Redelivered++
		s.log.Info("asked GitHub to redeliver a failed delivery", "hook", hookName(h), "guid", a.guid, "event", a.event)
	}
	return nil
}

// failedDeliveries lists the hook's deliveries within the redelivery
// window, newest first from GitHub, and returns the GUIDs none of whose
// attempts succeeded, oldest first.
func (s *Sweeper) failedDeliveries(ctx context.Context, h config.Hook) ([]*attempts, error) {
	cutoff := s.now().Add(-redeliveryWindow + time.Hour) // an hour's margin before GitHub forgets
	byGUID := map[string]*attempts{}
	opts := &gh.ListCursorOptions{PerPage: 100}
	for range maxPages {
		deliveries, resp, err := s.list(ctx, h, opts)
		if err != nil {
			return nil, err
		}
		old := false
		for _, d := range deliveries {
			at := d.GetDeliveredAt().Time
			if at.Before(cutoff) {
				old = true
				continue
			}
			a := byGUID[d.GetGUID()]
			if a == nil {
				a = &attempts{guid: d.GetGUID(), event: d.GetEvent()}
				byGUID[a.guid] = a
			}
			a.count++
			code := d.GetStatusCode()
			a.succeeded = a.succeeded || (code >= 200 && code < 300)
			if at.After(a.latestAt) || a.latestID == 0 {
				a.latestID, a.latestAt = d.GetID(), at
			}
		}
		if old || resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	var failed []*attempts
	for _, a := range byGUID {
		if !a.succeeded && a.guid != "" {
			failed = append(failed, a)
		}
	}
	slices.SortFunc(failed, func(a, b *attempts) int { return a.latestAt.Compare(b.latestAt) })
	return failed, nil
}

func (s *Sweeper) list(ctx context.Context, h config.Hook, opts *gh.ListCursorOptions) ([]*gh.HookDelivery, *gh.Response, error) {
	if h.App {
		return s.app.Apps.ListHookDeliveries(ctx, opts)
	}
	if h.Org != "" {
		return s.client.Organizations.ListHookDeliveries(ctx, h.Org, h.ID, opts)
	}
	owner, repo, _ := strings.Cut(h.Repo, "/")
	return s.client.Repositories.ListHookDeliveries(ctx, owner, repo, h.ID, opts)
}

// redeliver asks GitHub for a new attempt. GitHub answers 202, which
// go-github v60 reports as an *AcceptedError: that is success.
func (s *Sweeper) redeliver(ctx context.Context, h config.Hook, deliveryID int64) error {
	return s.gate.do(ctx, func() error {
		var err error
		switch {
		case h.App:
			_, _, err = s.app.Apps.RedeliverHookDelivery(ctx, deliveryID)
		case h.Org != "":
			_, _, err = s.client.Organizations.RedeliverHookDelivery(ctx, h.Org, h.ID, deliveryID)
		default:
			owner, repo, _ := strings.Cut(h.Repo, "/")
			_, _, err = s.client.Repositories.RedeliverHookDelivery(ctx, owner, repo, h.ID, deliveryID)
		}
		var accepted *gh.AcceptedError
		if err == nil || errors.As(err, &accepted) {
			return nil
		}
		return err
	})
}

func isRateLimit(err error) bool {
	var rl *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	return errors.As(err, &rl) || errors.As(err, &abuse)
}

func hookName(h config.Hook) string {
	if h.App {
		return "the GitHub App's webhook"
	}
	if h.Org != "" {
		return fmt.Sprintf("org %s #%d", h.Org, h.ID)
	}
	return fmt.Sprintf("%s #%d", h.Repo, h.ID)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
