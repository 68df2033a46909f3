package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/report"
	"github.com/incidenthub/incidenthub/internal/store"
)

// periodStart is a flag that takes an age (90d, 2w, 12h) or a date
// (2026-09-01, UTC): the start of a period.
type periodStart struct {
	ago  age
	date time.Time
}

func (s *periodStart) String() string {
	if !s.date.IsZero() {
		return s.date.Format(time.DateOnly)
	}
	return s.ago.String()
}
func (s *periodStart) Type() string { return "age|date" }

func (s *periodStart) Set(v string) error {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		s.date, s.ago = d, 0
		return nil
	}
	if err := s.ago.Set(v); err != nil {
		return fmt.Errorf("want an age such as 90d or a date such as 2026-09-01, got %q", v)
	}
	s.date = time.Time{}
	return nil
}

// periodEnd reads --until: a date, or now when empty.
func periodEnd(until string) (time.Time, error) {
	if until == "" {
		return time.Now().UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, until)
	if err != nil {
		return d, fmt.Errorf("--until: want a date such as 2026-10-01, got %q", until)
	}
	return d, nil
}

// oneOf refuses a --format outside formats.
func oneOf(format string, formats ...string) error {
	if slices.Contains(formats, format) {
		return nil
	}
	return fmt.Errorf("--format: want %s or %s, got %q", strings.Join(formats[:len(formats)-1], ", "), formats[len(formats)-1], format)
}

// from is the start of the period that ends at until.
func (s *periodStart) from(until time.Time) time.Time {
	if !s.date.IsZero() {
		return s.date
	}
	return until.Add(-time.Duration(s.ago))
}

func newReportCommand(g *globals) *cobra.Command {
	var (
		from    = periodStart{ago: age(90 * 24 * time.Hour)}
		until   string
		service string
		format  string
		post    bool
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Report incidents per service and severity: response times, reviews, follow-ups, signals of learning",
		Long: `Report the incidents opened in a period, per service and severity: how many, time to acknowledge
and to resolve (median and p90), pages per incident, the share with a recent change, reviews opened
and closed on time, follow-ups open and closed and their age, announced risky changes and whether a
page followed, and reviews whose "who knew what" and "what surprised us" sections people wrote.
Drills are left out. --post opens or updates the month's report issue in the review repo, with
Mermaid charts that GitHub renders; a running hub posts it.`,
		Example: `  incidenthub report
  incidenthub report --since 30d --service payments --format markdown
  incidenthub report --since 2026-09-01 --until 2026-10-01 --format json
  incidenthub report --post`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			end, err := periodEnd(until)
			if err != nil {
				return err
			}
			start := from.from(end)
			if post && !cmd.Flags().Changed("since") {
				// The month's issue shows the month so far.
				start = time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
				if start.Equal(end) {
					start = start.AddDate(0, -1, 0) // --until on the 1st: the month before
				}
			}
			if !start.Before(end) {
				return errors.New("--since must be before --until")
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := knownService(cmd.Context(), s, cfg, service); err != nil {
				return err
			}
			if post {
				q, err := actions.NewQueue(s, actions.Config{InsertOnly: true, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					return err
				}
				args := github.PostReportArgs{Month: end.Add(-time.Nanosecond).Format("2006-01"), Since: start, Until: end, Service: service}
				if _, err := q.Client().Insert(cmd.Context(), args, nil); err != nil {
					return err
				}
				fprintf(cmd.OutOrStdout(), "report %q requested: a running hub opens or updates it in the review repo\n", github.ReportTitle(args))
				return nil
			}
			var severities []string
			for _, sv := range cfg.Severities {
				severities = append(severities, sv.Name)
			}
			rep, err := report.Load(cmd.Context(), s, report.Options{Since: start, Until: end, Service: service, Now: end, Severities: severities})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				return writeJSON(out, rep)
			case "markdown":
				return report.Markdown(out, rep, severities)
			default:
				return report.Text(out, rep)
			}
		},
	}
	cmd.Flags().Var(&from, "since", "start of the period: an age (90d, 2w) before --until, or a date (2026-09-01)")
	cmd.Flags().StringVar(&until, "until", "", "end of the period, a date (default now); open follow-ups are aged to it")
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().StringVar(&format, "format", "text", "text, markdown or json")
	cmd.Flags().BoolVar(&post, "post", false, "open or update the month's report issue in the review repo, for the month so far unless --since (a running hub posts it)")
	cmd.PreRunE = func(*cobra.Command, []string) error { return oneOf(format, "text", "markdown", "json") }
	return cmd
}

// knownService refuses a --service that names no configured service and
// no stored incident: a typo would give an empty report (or post one)
// rather than an error. A service no longer configured still reports on
// the incidents it had.
func knownService(ctx context.Context, s *store.Store, cfg *config.Config, service string) error {
	if service == "" || slices.ContainsFunc(cfg.Services, func(sv config.Service) bool { return sv.Name == service }) {
		return nil
	}
	recs, err := s.Incidents(ctx, store.IncidentFilter{Service: service, Limit: 1})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("--service %q is not a configured service, and no incident names it", service)
	}
	return nil
}
