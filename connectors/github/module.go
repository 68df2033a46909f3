package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
	// The option type ghinstallation takes is its own go-github's.
	ghinstall "github.com/google/go-github/v88/github"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/lifecycle"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module contributes the GitHub webhook endpoint, its normaliser, the
// jobs that write to GitHub, and the sweeper that recovers failed
// deliveries.
var Module = fx.Module("github",
	fx.Provide(
		fx.Annotate(routes, fx.ResultTags(`group:"routes,flatten"`)),
		fx.Annotate(func() Normalizer { return Normalizer{} },
			fx.As(new(pipeline.Normalizer)), fx.ResultTags(`group:"normalizers"`)),
		fx.Annotate(Jobs, fx.ResultTags(`group:"jobs,flatten"`)),
		fx.Annotate(newPreviewer, fx.As(new(api.ReviewPreviewer))),
	),
	fx.Provide(
		fx.Private,
		newDocs,
		// One gate for every GitHub write of the token: review docs,
		// comments and redeliveries alike.
		NewWriteGate,
		func(s *store.Store) ReviewStore { return s },
		func(s *store.Store) Exclusive { return s },
		func(s *store.Store) DeliveryLookup { return s },
		func(r *hubevent.Reporter) Reporter { return r },
	),
	fx.Invoke(runSweeper, registerReviewGauge),
)

// Path is where GitHub webhooks deliver.
const Path = "/webhooks/github"

// sweepInterval is how often failed deliveries are looked for.
const sweepInterval = 5 * time.Minute

// MaxDeliveryBytes is the largest delivery of the events the hub
// subscribes to, with room to spare: their largest fields are an issue,
// pull request or comment body, which GitHub caps at 65,536 characters
// (a few hundred KB escaped). GitHub caps payloads at 25 MB, which only
// push events of huge commits approach; those are not events the hub
// handles, and a 413 for one is redelivered at most a few times by the
// sweeper (maxAttempts).
const MaxDeliveryBytes = 2 << 20

func routes(cfg config.GitHub, intake config.Intake, budget *inbox.Budget, w *inbox.Writer, log *slog.Logger, m *metrics.Metrics) []httpserver.Route {
	if len(cfg.WebhookSecrets) == 0 {
		log.Warn("GitHub webhooks are off: no github.webhook_secrets configured", "path", Path)
		return nil
	}
	h := inbox.NewHandler(NewVerifier(cfg.WebhookSecrets), w, intake.BodyLimit(MaxDeliveryBytes), budget, log, m)
	return []httpserver.Route{{Pattern: "POST " + Path, Handler: h}}
}

// NewClient returns a go-github client for the configuration: api.github.com,
// or base_url, the REST root as given (GitHub Enterprise:
// https://ghe.example.com/api/v3; a test server: its URL). It writes as
// github.token, or as the GitHub App's installation (github.app), whose
// tokens ghinstallation mints from the App's key, through hc's transport
// too, and refreshes before they expire.
func NewClient(cfg config.GitHub, hc *http.Client) (*gh.Client, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	token := cfg.Token
	c := gh.NewClient(httpclient.Authorized(hc, func(h http.Header) { h.Set("Authorization", "Bearer "+token.Value()) }))
	if cfg.App != nil {
		itr, err := ghinstallation.NewKeyFromFile(httpclient.Transport(hc), cfg.App.ID, cfg.App.InstallationID, cfg.App.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("github.app.private_key_file: %w", err)
		}
		itr.BaseURL = apiRoot(cfg)
		// Without options ghinstallation sends a JSON null, which GitHub's
		// description does not allow for the body; ask for the
		// installation's permissions as they are.
		itr.InstallationTokenOptions = &ghinstall.InstallationTokenOptions{}
		return clientOver(hc, itr, cfg)
	}
	return withBaseURL(c, cfg)
}

// NewAppClient returns a go-github client that authenticates as the
// GitHub App itself (a JWT signed with its key), for what only the App
// may do: list and redeliver its own webhook's deliveries.
func NewAppClient(cfg config.GitHub, hc *http.Client) (*gh.Client, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	atr, err := ghinstallation.NewAppsTransportKeyFromFile(httpclient.Transport(hc), cfg.App.ID, cfg.App.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github.app.private_key_file: %w", err)
	}
	atr.BaseURL = apiRoot(cfg)
	return clientOver(hc, atr, cfg)
}

// clientOver is a go-github client on hc (its timeout) that sends
// through auth, an App's transport.
func clientOver(hc *http.Client, auth http.RoundTripper, cfg config.GitHub) (*gh.Client, error) {
	authed := *hc
	authed.Transport = auth
	return withBaseURL(gh.NewClient(&authed), cfg)
}

// CheckApp reads and parses the App's private key, for config check.
func CheckApp(cfg config.GitHub) error {
	if cfg.App == nil {
		return nil
	}
	_, err := NewAppClient(cfg, &http.Client{})
	return err
}

// apiRoot is the REST root, without its trailing slash, as ghinstallation
// takes it.
func apiRoot(cfg config.GitHub) string {
	if cfg.BaseURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(cfg.BaseURL, "/")
}

func withBaseURL(c *gh.Client, cfg config.GitHub) (*gh.Client, error) {
	if cfg.BaseURL == "" {
		return c, nil
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("github.base_url: %w", err)
	}
	c.BaseURL = base
	return c, nil
}

func runSweeper(lc fx.Lifecycle, cfg config.GitHub, stored DeliveryLookup, db *store.Store, gate *WriteGate, log *slog.Logger) error {
	switch {
	case len(cfg.Hooks) == 0 && cfg.App == nil:
		return nil
	case cfg.Identity() == "":
		log.Warn("GitHub delivery recovery is off: github.hooks are listed but neither github.token nor github.app is set")
		return nil
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	client, err := NewClient(cfg, hc)
	if err != nil {
		return err
	}
	hooks := cfg.Hooks
	var app *gh.Client
	if cfg.App != nil {
		// The App's own webhook: its deliveries are listed with the
		// App's JWT, not an installation token.
		if app, err = NewAppClient(cfg, hc); err != nil {
			return err
		}
		hooks = append(slices.Clip(hooks), config.Hook{App: true})
	}
	s := NewSweeper(client, app, hooks, stored, gate, log)
	// One replica sweeps: GitHub's redeliveries are not free, and each
	// replica would ask for the same ones.
	lease := db.Lease("github-sweeper", sweepInterval)
	lc.Append(fx.StopHook(lease.Release))
	lifecycle.Go(lc, func(ctx context.Context) { s.Run(ctx, sweepInterval, lease) })
	return nil
}

// Run sweeps at once and then every interval until ctx ends, while this
// replica holds the lease on sweeping.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration, lease lifecycle.Leader) {
	lifecycle.Periodically(ctx, interval, lease, s.log, func(ctx context.Context) {
		res, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweep incomplete; the next one retries", "err", err)
		}
		if res.Redelivered > 0 || res.GivenUp > 0 {
			s.log.Info("sweep done", "redelivered", res.Redelivered, "given_up", res.GivenUp)
		}
	})
}

// Previewer renders review docs as the hub would post them, for the API's
// review.md: the same rendering as the review job, without GitHub.
type Previewer struct {
	docs  Docs
	store ReviewStore
}

func newPreviewer(p JobsParams) Previewer {
	return Previewer{store: p.Store, docs: p.Docs}
}

// Preview implements api.ReviewPreviewer.
func (p Previewer) Preview(ctx context.Context, id int64, now time.Time) (doc, summary string, err error) {
	return p.docs.Preview(ctx, p.store, id, now)
}
