package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/incident"
)

func newActionsCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "actions", Short: "The side effects on vendors: list, retry and cancel their jobs"}
	var all, failed, asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List jobs: waiting, held, running, and the dead letters (discarded, cancelled)",
		Example: `  incidenthub actions list
  incidenthub actions list --failed --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withQueue(cmd.Context(), g, func(q *actions.Queue) error {
				params := river.NewJobListParams().First(200)
				switch {
				case failed:
					// The dead letters: refused for good, out of attempts,
					// or cancelled by hand.
					params = params.States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled)
				case !all:
					params = params.States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
						rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateDiscarded, rivertype.JobStateCancelled)
				}
				res, err := q.Client().JobList(cmd.Context(), params)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					jobs := make([]jobJSON, 0, len(res.Jobs))
					for _, j := range res.Jobs {
						jobs = append(jobs, jobOf(j))
					}
					return writeJSON(out, map[string]any{"jobs": jobs})
				}
				return writeTableNotes(out, "no jobs", []string{"ID", "KIND", "INCIDENT", "STATE", "ATTEMPT", "SCHEDULED", "WHY"}, res.Jobs,
					func(j *rivertype.JobRow) []string {
						return []string{strconv.FormatInt(j.ID, 10), j.Kind, jobIncident(j), string(j.State),
							strconv.Itoa(j.Attempt), stamp(j.ScheduledAt), printable(why(j))}
					})
			})
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include completed jobs")
	list.Flags().BoolVar(&failed, "failed", false, "only the jobs that failed for good (discarded or cancelled): fix the cause, then `actions retry`")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.MarkFlagsMutuallyExclusive("all", "failed")
	c.AddCommand(list,
		jobCommand(g, "retry", "Run a job again now (a discarded or cancelled one too)",
			func(ctx context.Context, q *actions.Queue, id int64) (*rivertype.JobRow, error) {
				return q.Client().JobRetry(ctx, id)
			}),
		jobCommand(g, "cancel", "Cancel a job; it stays listed as cancelled",
			func(ctx context.Context, q *actions.Queue, id int64) (*rivertype.JobRow, error) {
				return q.Client().JobCancel(ctx, id)
			}),
	)
	return c
}

func jobCommand(g *globals, verb, short string, do func(context.Context, *actions.Queue, int64) (*rivertype.JobRow, error)) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " JOB-ID",
		Short:   short,
		Example: "  incidenthub actions list --failed\n  incidenthub actions " + verb + " 42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("job id %q: want a number from `actions list`", args[0])
			}
			return withQueue(cmd.Context(), g, func(q *actions.Queue) error {
				j, err := do(cmd.Context(), q, id)
				if errors.Is(err, river.ErrNotFound) {
					return fmt.Errorf("no action %d; see incidenthub actions list --all", id)
				}
				if err != nil {
					return err
				}
				fprintf(cmd.OutOrStdout(), "job %d (%s) is %s\n", j.ID, j.Kind, j.State)
				return nil
			})
		},
	}
}

// withQueue opens the store and an insert-only queue client on it.
func withQueue(ctx context.Context, g *globals, fn func(*actions.Queue) error) error {
	s, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	q, err := actions.NewQueue(s, actions.Config{InsertOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	return fn(q)
}

func jobIncident(j *rivertype.JobRow) string {
	var args struct {
		IncidentID int64 `json:"incident_id"`
	}
	if json.Unmarshal(j.EncodedArgs, &args) != nil || args.IncidentID == 0 {
		return "-"
	}
	return incident.FormatRef(args.IncidentID)
}

// why explains a job's state: why it waits, as the job recorded it (a
// connector that holds it, a vendor's rate limit), or its last error (a
// dead letter keeps the vendor's words).
func why(j *rivertype.JobRow) string {
	if j.State == rivertype.JobStateScheduled {
		switch w := actions.WaitingOf(j); {
		case w.Held != "":
			return "held: " + w.Held
		case w.RateLimited != "":
			return "rate limited by " + w.RateLimited
		}
	}
	if n := len(j.Errors); n > 0 {
		// The state says it was cancelled; River's error type says no more.
		return strings.TrimPrefix(j.Errors[n-1].Error, "JobCancelError: ")
	}
	return ""
}
