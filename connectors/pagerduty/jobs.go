package pagerduty

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Queue is PagerDuty's job queue.
const Queue = "pagerduty"

// PageNoteArgs adds a note to a PagerDuty incident linking the review
// doc, or, with FollowUpKey, a follow-up's ticket.
type PageNoteArgs struct {
	IncidentID  int64  `json:"incident_id"`
	PageID      string `json:"page_id"`
	FollowUpKey string `json:"followup_key,omitempty"`
}

// Kind implements river.JobArgs.
func (PageNoteArgs) Kind() string { return "pagerduty.note" }

// InsertOpts: one note job per page at a time.
func (PageNoteArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// Reporter reports what a job made, as a hub event the router decides on.
type Reporter interface {
	Report(ctx context.Context, r hubevent.Report) error
}

// NotesHeld says why notes cannot be written with this configuration.
func NotesHeld(cfg config.PagerDuty) string {
	switch {
	case cfg.APIToken.Value() == "":
		return "pagerduty.api_token is not set"
	case cfg.FromEmail == "":
		// PagerDuty requires a From header naming a user on notes.
		return "pagerduty.from_email is not set"
	}
	return ""
}

// JobsParams are what PagerDuty's jobs need in an app.
type JobsParams struct {
	fx.In

	PagerDuty   config.PagerDuty
	Correlation config.Correlation
	Severities  []config.Severity
	Services    []config.Service
	Store       NoteStore
	Changes     ChangeStore
	Reporter    Reporter
	Log         *slog.Logger
}

// Jobs are PagerDuty's jobs: notes on pages, held until credentials are
// set, and change events, which need only a service's routing key.
func Jobs(p JobsParams) []actions.Job {
	notes := newPageNotes(p.PagerDuty, p.Store, p.Reporter, p.Log)
	if notes.held != "" {
		p.Log.Warn("PagerDuty notes are held until configured", "reason", notes.held)
	}
	triage := &TriageWorker{notes: notes, lookback: p.Correlation.ChangeLookback, services: p.Services}
	return []actions.Job{
		actions.NewJob(incident.ActionPageNote, &NoteWorker{notes: notes}, 2, func(id int64, a incident.Action) PageNoteArgs {
			return PageNoteArgs{IncidentID: id, PageID: a.Target, FollowUpKey: a.FollowUp}
		}),
		// Four at a time: River fetches at most as many jobs as a queue
		// has free workers, every 100 ms, so two capped a storm's triage
		// notes at 20 a second (make bench-e2e); PagerDuty's own limit
		// (960 requests a minute per token) is met with 429s and waits.
		actions.NewJob(incident.ActionTriageNote, triage, 4, func(id int64, a incident.Action) TriageNoteArgs {
			return TriageNoteArgs{IncidentID: id, PageID: a.Target}
		}),
		actions.NewJob(incident.ActionLiveChangeNote, &LiveChangeWorker{notes: notes}, 2, func(id int64, a incident.Action) LiveChangeNoteArgs {
			return LiveChangeNoteArgs{IncidentID: id, PageID: a.Target, ChangeKey: a.Change}
		}),
		actions.NewJob(incident.ActionRolesNote, &RolesWorker{notes: notes, severities: p.Severities}, 2, func(id int64, a incident.Action) RolesNoteArgs {
			return RolesNoteArgs{IncidentID: id, PageID: a.Target}
		}),
		actions.NewJob(incident.ActionChangeEvent, NewChangeEventWorker(p.PagerDuty, p.Services, p.Changes, p.Log), 2, func(_ int64, a incident.Action) ChangeEventArgs {
			return ChangeEventArgs{ChangeKey: a.Change}
		}),
		actions.NewJob(incident.ActionDrillPage, NewDrillPageWorker(p.PagerDuty, p.Severities, p.Store, p.Log), 1, func(id int64, a incident.Action) DrillPageArgs {
			return DrillPageArgs{IncidentID: id, Action: a.Target}
		}),
		actions.NewJob(incident.ActionDrillStep, &DrillStepWorker{notes: notes}, 1, func(id int64, a incident.Action) DrillStepArgs {
			step, _ := strconv.Atoi(a.Target)
			return DrillStepArgs{IncidentID: id, Step: step, StepKind: a.StepKind, Summary: a.Text}
		}),
	}
}

// classify turns a PagerDuty failure into what River should do, by the
// one contract every connector follows (actions.Outcome). go-pagerduty's
// APIError keeps only the status, so the answer's headers (Retry-After,
// ratelimit-reset) come from the hub's HTTP client.
func classify(ctx context.Context, err error, last *httpclient.LastResponse) error {
	var api pd.APIError
	if errors.As(err, &api) {
		return actions.Outcome(ctx, "PagerDuty", err, last.Get())
	}
	return actions.Outcome(ctx, "PagerDuty", err, nil)
}
