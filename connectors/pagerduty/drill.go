package pagerduty

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
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
	return &DrillPageWorker{client: newEventsClient(cfg, log), cfg: cfg, severities: severities, store: s, log: log.With("component", "pagerduty-drills")}
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
	if job.Args.Action == "trigger" && !rec.Status.Active() {
		// Ended before it paged (the job was held, or retrying): nobody
		// is to be paged for a drill that is over.
		w.log.Info("drill ended before it paged; not paging", "incident", ref)
		return nil
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

// DrillStepArgs plays one step of a drill's scenario.
type DrillStepArgs struct {
	IncidentID int64  `json:"incident_id"`
	Step       int    `json:"step"`
	StepKind   string `json:"kind"`
	Summary    string `json:"summary"`
}

// Kind implements river.JobArgs.
func (DrillStepArgs) Kind() string { return "pagerduty.drill_step" }

// InsertOpts: one job per step, done or not.
func (DrillStepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DrillStepWorker plays a scenario's step when its time comes: on the
// drill's page in PagerDuty as a note, where the person in training looks
// (when notes can be written and the drill paged), and on the drill's
// timeline through its report. A dry drill's steps go on its timeline
// only: there is no page to write on.
type DrillStepWorker struct {
	river.WorkerDefaults[DrillStepArgs]
	notes *pageNotes
}

// Work plays the step, unless the drill has ended.
func (w *DrillStepWorker) Work(ctx context.Context, job *river.Job[DrillStepArgs]) error {
	a := job.Args
	rec, err := w.notes.store.Incident(ctx, a.IncidentID)
	if err != nil {
		return err
	}
	if rec.Kind != incident.KindDrill || !rec.Status.Active() {
		return nil // ended: the rest of its scenario is not played
	}
	if page := drillPage(&rec); page != "" && w.notes.client != nil {
		marker := fmt.Sprintf("[incidenthub %s step %d]", rec.Ref(), a.Step)
		content := fmt.Sprintf("[DRILL] Scenario %s: %s %s", a.StepKind, escape.Truncate(plain(a.Summary), incident.MaxStepSummary), marker)
		ctx, last := httpclient.WithLastResponse(ctx)
		if err := addNote(ctx, w.notes.client, w.notes.from, page, content, marker); err != nil {
			return classify(ctx, err, last)
		}
	}
	return w.notes.report.Report(ctx, hubevent.Report{
		Key:  hubevent.RecordKey(incident.EventDrillStep, rec.ID, strconv.Itoa(a.Step)),
		Type: incident.EventDrillStep, At: w.notes.now().UTC(), IncidentID: rec.ID,
		Target: a.StepKind + ":" + strconv.Itoa(a.Step), Text: a.Summary,
	})
}

// drillPage is the drill's page still open, if any.
func drillPage(rec *incident.Record) string {
	for _, p := range rec.Pages {
		if p.Status != incident.PageResolved {
			return p.ID
		}
	}
	return ""
}

// NewDrillStepWorker returns the worker; without note credentials it
// still puts steps on the drill's timeline.
func NewDrillStepWorker(cfg config.PagerDuty, s NoteStore, r Reporter, log *slog.Logger) *DrillStepWorker {
	return &DrillStepWorker{notes: newPageNotes(cfg, s, r, log)}
}
