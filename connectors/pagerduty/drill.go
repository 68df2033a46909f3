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

// DrillPageArgs pages for a drill, or resolves its page.
type DrillPageArgs struct {
	IncidentID int64 `json:"incident_id"`
	// Action is the Events API event_action: trigger or resolve.
	Action string `json:"action"`
}

// Kind implements river.JobArgs.
func (DrillPageArgs) Kind() string { return "pagerduty.drill_page" }

// InsertOpts: one job per drill and action, done or not: a drill pages
// once, and ends once.
func (DrillPageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DrillsHeld says why drills cannot page with this configuration.
func DrillsHeld(cfg config.PagerDuty) string {
	if cfg.DrillRoutingKey.Value() == "" {
		return "pagerduty.drill_routing_key is not set"
	}
	return ""
}

// DrillPageWorker pages for drills through PagerDuty's Events API v2, so
// that the person in training is paged as they would be for real. The
// event's dedup_key names the drill: PagerDuty makes it the incident's
// incident_key, and the webhooks that follow join the drill's record.
// Sent again after a lost answer, the same dedup_key only adds to the
// alert PagerDuty already has: the retry pages nobody twice.
type DrillPageWorker struct {
	river.WorkerDefaults[DrillPageArgs]
	client     *pd.Client
	cfg        config.PagerDuty
	severities []config.Severity
	store      NoteStore
	log        *slog.Logger
}

// NewDrillPageWorker returns the worker, on the hub's retrying HTTP
// client.
func NewDrillPageWorker(cfg config.PagerDuty, severities []config.Severity, s NoteStore, log *slog.Logger) *DrillPageWorker {
	c := pd.NewClient("", pd.WithV2EventsAPIEndpoint(strings.TrimSuffix(cmp.Or(cfg.EventsURL, config.DefaultEventsURL), "/")))
	c.HTTPClient = httpclient.New(httpclient.Options{Logger: log})
	return &DrillPageWorker{client: c, cfg: cfg, severities: severities, store: s, log: log.With("component", "pagerduty-drills")}
}

// Work sends the drill's event.
func (w *DrillPageWorker) Work(ctx context.Context, job *river.Job[DrillPageArgs]) error {
	ref := incident.FormatRef(job.Args.IncidentID)
	if held := DrillsHeld(w.cfg); held != "" {
		return actions.Hold(ctx, w.log, held, "incident", ref)
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.Kind != incident.KindDrill || rec.Drill == "" {
		return river.JobCancel(fmt.Errorf("%s is not a drill", ref))
	}
	ev, err := DrillEvent(&rec, job.Args.Action, w.cfg.DrillRoutingKey.Value(), w.severities)
	if err != nil {
		return river.JobCancel(err)
	}
	ctx, last := httpclient.WithLastResponse(ctx)
	_, err = w.client.ManageEventWithContext(ctx, ev)
	if err == nil {
		w.log.Info("drill event sent to PagerDuty", "incident", ref, "action", ev.Action)
	}
	return classify(ctx, err, last)
}

// DrillEvent is the Events API v2 event that pages for the drill rec, or
// resolves its page. The summary says it is a drill before anything else,
// since it is what the phone call reads out.
func DrillEvent(rec *incident.Record, action, routingKey string, severities []config.Severity) (*pd.V2Event, error) {
	ev := &pd.V2Event{RoutingKey: routingKey, Action: action, DedupKey: incident.DrillDedupKey(rec)}
	switch action {
	case "trigger":
		ev.Client = "incidenthub"
		ev.Payload = &pd.V2Payload{
			Summary:  escape.Truncate(escape.Title(fmt.Sprintf("%s (%s, %s): this is a drill", rec.Title, rec.Ref(), rec.Service)), MaxChangeSummary),
			Source:   "incidenthub drill",
			Severity: eventSeverity(severities, rec.Severity),
			Class:    "drill",
			Details: map[string]any{
				"drill": true, "incident": rec.Ref(), "service": rec.Service, "severity": rec.Severity,
				"note": "This is a training incident started with `incidenthub drill`. Respond as you would for real.",
			},
		}
	case "resolve":
	default:
		return nil, fmt.Errorf("drill event action %q: want trigger or resolve", action)
	}
	return ev, nil
}

// eventSeverity maps a hub severity to the Events API's four by its rank:
// the most severe is critical, then error, then warning, so that a drill
// pages with the urgency its severity would.
func eventSeverity(severities []config.Severity, name string) string {
	levels := []string{"critical", "error", "warning"}
	for i, s := range severities {
		if s.Name == name {
			return levels[min(i, len(levels)-1)]
		}
	}
	return "error"
}
