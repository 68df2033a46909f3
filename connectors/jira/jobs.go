package jira

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/riverqueue/river"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Queue is Jira's job queue.
const Queue = "jira"

// FileFollowUpArgs files a follow-up's Jira ticket, once.
type FileFollowUpArgs struct {
	IncidentID  int64  `json:"incident_id"`
	FollowUpKey string `json:"followup_key"`
}

// Kind implements river.JobArgs.
func (FileFollowUpArgs) Kind() string { return "jira.file_followup" }

// InsertOpts: one job per follow-up at a time, so that two workers never
// race to create the same ticket.
func (FileFollowUpArgs) InsertOpts() river.InsertOpts { return actions.OnePending(Queue) }

// Reporter reports what a job made, as a hub event the router decides on,
// and finds a report again.
type Reporter interface {
	Report(ctx context.Context, r hubevent.Report) error
	Reported(ctx context.Context, key string) (hubevent.Report, bool, error)
}

// FollowUpsHeld says why tickets cannot be filed with this configuration,
// or "" when they can.
func FollowUpsHeld(cfg config.Jira) string {
	switch {
	case cfg.BaseURL == "":
		return "jira.base_url is not set"
	case cfg.Email == "" && cfg.Flavor != config.JiraDataCenter:
		return "jira.email is not set"
	case cfg.APIToken.Value() == "" && cfg.Flavor == config.JiraDataCenter:
		return "jira.api_token (a personal access token) is not set"
	case cfg.APIToken.Value() == "":
		return "jira.api_token is not set"
	}
	return ""
}

// JobsParams are what Jira's jobs need in an app.
type JobsParams struct {
	fx.In

	Jira     config.Jira
	Services []config.Service
	People   config.People
	Drills   config.Drills
	Store    FollowUpStore
	Reporter Reporter
	Log      *slog.Logger
}

// Jobs are Jira's jobs: filing follow-up tickets, held (with the reason in
// the log and in `actions list`) until the site and its credentials are
// configured.
func Jobs(p JobsParams) ([]actions.Job, error) {
	var tracker Tracker
	held := FollowUpsHeld(p.Jira)
	if held != "" {
		p.Log.Warn("Jira follow-up tickets are held until configured", "reason", held)
	} else {
		client, err := NewClient(p.Jira, httpclient.New(httpclient.Options{Logger: p.Log}))
		if err != nil {
			return nil, err
		}
		tracker = NewTickets(client, p.Jira.Flavor)
	}
	w := NewFileWorker(Filing{Jira: p.Jira, Services: p.Services, People: p.People, Drills: p.Drills}, tracker, p.Store, p.Reporter, p.Log)
	return []actions.Job{
		actions.NewJob(incident.ActionFileFollowUp, w, 2, func(id int64, a incident.Action) FileFollowUpArgs {
			return FileFollowUpArgs{IncidentID: id, FollowUpKey: a.Target}
		}),
	}, nil
}

// classify turns a Jira failure into what River should do, by the one
// contract every connector follows (actions.Outcome). A failure that may
// have created the ticket is retried: the next attempt looks for it first.
func classify(ctx context.Context, err error) error {
	var je *Error
	if errors.As(err, &je) {
		return actions.Outcome(ctx, "Jira", err, &http.Response{StatusCode: je.StatusCode, Header: je.Header})
	}
	return actions.Outcome(ctx, "Jira", err, nil)
}
