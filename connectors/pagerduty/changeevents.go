package pagerduty

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// ChangeEventArgs sends one change to PagerDuty's Events API.
type ChangeEventArgs struct {
	ChangeKey string `json:"change_key"`
}

// Kind implements river.JobArgs.
func (ChangeEventArgs) Kind() string { return "pagerduty.change_event" }

// InsertOpts: one job per change, done or not. The router asks once, when
// the change takes effect; uniqueness over finished jobs as well keeps two
// replicas deciding close together from sending it twice.
func (ChangeEventArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ChangeStore reads the change a change event is about.
type ChangeStore interface {
	Change(ctx context.Context, key string) (*incident.Change, error)
}

// MaxChangeSummary is the longest summary the Events API takes.
const MaxChangeSummary = 1024

// ChangeEventWorker sends a service's change to PagerDuty as a change
// event, so that it shows among the service's recent changes next to its
// incidents. The Events API takes no idempotency key and offers no read:
// a 202 whose answer is lost is sent again by the retry, and may show
// twice (docs/decisions.md §15).
type ChangeEventWorker struct {
	river.WorkerDefaults[ChangeEventArgs]
	client   *pd.Client
	services []config.Service
	store    ChangeStore
	log      *slog.Logger
}

// NewChangeEventWorker returns the worker, on the hub's retrying HTTP
// client.
func NewChangeEventWorker(cfg config.PagerDuty, services []config.Service, s ChangeStore, log *slog.Logger) *ChangeEventWorker {
	return &ChangeEventWorker{client: newEventsClient(cfg, log), services: services, store: s, log: log.With("component", "pagerduty-change-events")}
}

// newEventsClient is a client of the Events API v2, on the hub's retrying
// HTTP client. The Events API authenticates by the routing key in the
// body: no REST token is needed, or sent.
func newEventsClient(cfg config.PagerDuty, log *slog.Logger) *pd.Client {
	c := pd.NewClient("", pd.WithV2EventsAPIEndpoint(strings.TrimSuffix(cmp.Or(cfg.EventsURL, config.DefaultEventsURL), "/")))
	c.HTTPClient = httpclient.New(httpclient.Options{Logger: log})
	return c
}

// Work sends the change event.
func (w *ChangeEventWorker) Work(ctx context.Context, job *river.Job[ChangeEventArgs]) error {
	c, err := w.store.Change(ctx, job.Args.ChangeKey)
	if err != nil {
		return err
	}
	if c == nil {
		return river.JobCancel(fmt.Errorf("change %s is not stored", job.Args.ChangeKey))
	}
	var key string
	for _, s := range w.services {
		if s.Name == c.Service {
			key = s.PagerDutyRoutingKey.Value()
		}
	}
	if key == "" {
		return actions.Hold(ctx, w.log, fmt.Sprintf("service %s has no pagerduty_routing_key", c.Service), "change", c.Key)
	}
	ctx, last := httpclient.WithLastResponse(ctx)
	_, err = w.client.CreateChangeEventWithContext(ctx, ChangeEvent(c, key))
	if err == nil {
		w.log.Info("change sent to PagerDuty", "service", c.Service, "change", c.Key)
	}
	return classify(ctx, err, last)
}

// ChangeEvent is the Events API v2 change event of c. Text from payloads
// is made one line, kept from mentioning or referencing anyone, and
// clipped to the API's limits.
func ChangeEvent(c *incident.Change, routingKey string) pd.ChangeEvent {
	details := map[string]any{"kind": c.Kind, "repository": c.Repo, "incidenthub_change": c.Key}
	for k, v := range map[string]string{
		"environment": c.Environment, "workflow": c.Workflow, "ref": plain(c.Ref), "sha": c.SHA,
		"state": c.State, "by": plain(c.Actor), "title": plain(c.Title),
	} {
		if v != "" {
			details[k] = v
		}
	}
	if c.PRNumber > 0 {
		details["pull_request"] = c.PRNumber
	}
	ev := pd.ChangeEvent{
		RoutingKey: routingKey,
		Payload: pd.ChangeEventPayload{
			Summary:       escape.Truncate(escape.Title(c.Summary()), MaxChangeSummary),
			Source:        c.Repo,
			Timestamp:     c.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			CustomDetails: details,
		},
	}
	if u := escape.URL(c.URL); u != "" {
		ev.Links = []pd.ChangeEventLink{{Href: u, Text: linkText(c)}}
	}
	return ev
}

func linkText(c *incident.Change) string {
	switch c.Kind {
	case incident.ChangeMerge:
		return fmt.Sprintf("Pull request #%d on GitHub", c.PRNumber)
	case incident.ChangeDeploy:
		return "Deployment on GitHub"
	case incident.ChangeRelease:
		return "Release on GitHub"
	case incident.ChangeWorkflow:
		return "Deploy workflow run on GitHub"
	}
	return "Commit on GitHub"
}
