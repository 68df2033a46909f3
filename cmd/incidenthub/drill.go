package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newDrillCommand(g *globals) *cobra.Command {
	var (
		dr       incident.Drill
		dry      bool
		wait     time.Duration
		scenario string
		speed    float64
		from     string
	)
	cmd := &cobra.Command{
		Use:   "drill --service NAME [--dry] [--scenario FILE [--speed N]] | --from INC-ID",
		Short: "Start a drill: a training incident, paged for real through PagerDuty or kept in the hub",
		Long: `Start a drill: a training incident of kind drill. With pagerduty.drill_routing_key set it pages
the on-call for real through PagerDuty's Events API, and the page's webhooks join the drill's record;
with --dry it stays inside the hub. Drills are marked [DRILL] everywhere, left out of reports and
metrics, and get a debrief doc with drill questions when they end ("incidenthub drill end").

A scenario (YAML: title, service, severity, and steps, each a deploy or a note "after" a time
from the start) replays a past incident's deploys and notes at their spacing, divided by --speed:
on the drill's timeline, and as notes on its PagerDuty page. --from INC-12 writes the scenario of
a closed incident, people pseudonymised, to start from.`,
		Example: `  incidenthub drill --service payments --dry
  incidenthub drill --service payments --title "Card payments time out" --severity SEV2
  incidenthub drill --from INC-12 > checkout-outage.yaml
  incidenthub drill --scenario checkout-outage.yaml --speed 2
  incidenthub drill end INC-12`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" && dr.Service == "" && scenario == "" {
				return errors.New("--service is required (or a --scenario that names it, or --from)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != "" {
				return writeScenario(cmd, g, from)
			}
			cfg, err := g.storeConfig()
			if err != nil {
				return err
			}
			if scenario != "" {
				if err := loadScenario(scenario, speed, &dr); err != nil {
					return err
				}
			}
			dr.Page = !dry
			if err := checkDrill(cfg, &dr); err != nil {
				return err
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			key := make([]byte, 8)
			_, _ = rand.Read(key) // never fails (crypto/rand)
			dr.Key = hex.EncodeToString(key)
			now := time.Now().UTC()
			if err := hubevent.NewReporter(s, s).Report(cmd.Context(), hubevent.Report{
				Key: "drill.started:" + dr.Key, Type: incident.EventDrillStarted, At: now, Actor: requester(), Drill: &dr,
			}); err != nil {
				return err
			}
			how := "kept in the hub (--dry): nobody is paged"
			if dr.Page {
				how = "paging the on-call through PagerDuty"
			}
			out := cmd.OutOrStdout()
			rec, err := awaitDrill(cmd.Context(), s, dr, wait)
			if err != nil {
				fprintf(out, "drill %s requested on %s, %s; a running hub opens its record (incidenthub incidents list --kind drill)\n", dr.Key, dr.Service, how)
				return nil
			}
			fprintf(out, "%s: %s on %s, %s\nend it with: incidenthub drill end %s\n", rec.Ref(), rec.Title, rec.Service, how, rec.Ref())
			return nil
		},
	}
	cmd.Flags().StringVar(&dr.Service, "service", "", "the configured service the drill is about (required)")
	cmd.Flags().StringVar(&dr.Title, "title", "", `what the drill is about, as the page says it (default "Drill on SERVICE")`)
	cmd.Flags().StringVar(&dr.Severity, "severity", "", "the drill's severity (default the least severe)")
	cmd.Flags().BoolVar(&dry, "dry", false, "keep the drill inside the hub: nobody is paged")
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for a running hub to open the drill's record")
	cmd.Flags().StringVar(&scenario, "scenario", "", "a scenario file (YAML) whose deploys and notes the drill replays")
	cmd.Flags().Float64Var(&speed, "speed", 1, "replay the scenario this many times faster")
	cmd.Flags().StringVar(&from, "from", "", "write the scenario of a closed incident (INC-12) to standard output, people pseudonymised, and start nothing")
	cmd.AddCommand(newDrillEndCommand(g))
	return cmd
}

const drillRoutingKeyPath = "pagerduty.drill_routing_key"

// checkDrill refuses a drill the hub could not run as asked, before
// anything is stored.
func checkDrill(cfg *config.Config, dr *incident.Drill) error {
	if !slices.ContainsFunc(cfg.Services, func(s config.Service) bool { return s.Name == dr.Service }) {
		return fmt.Errorf("--service %q is not a configured service", dr.Service)
	}
	if dr.Severity != "" && !slices.ContainsFunc(cfg.Severities, func(s config.Severity) bool { return s.Name == dr.Severity }) {
		return fmt.Errorf("--severity %q is not a configured severity", dr.Severity)
	}
	if dr.Title == "" {
		dr.Title = "Drill on " + dr.Service
	}
	if utf8.RuneCountInString(dr.Title) > incident.MaxDrillTitle {
		return fmt.Errorf("--title has %d characters, at most %d", utf8.RuneCountInString(dr.Title), incident.MaxDrillTitle)
	}
	// A key this shell cannot read (an unset variable, an unmounted
	// file) may be the hub's; a hub without it holds the page and says so.
	if dr.Page && cfg.PagerDuty.DrillRoutingKey.Value() == "" && !cfg.Unknown(drillRoutingKeyPath) {
		return errors.New("pagerduty.drill_routing_key is not set: set it to the Events API key of a service " +
			"that pages the people in training, or run the drill with --dry")
	}
	return nil
}

// awaitDrill waits for a running hub to open the drill's record.
func awaitDrill(ctx context.Context, s *store.Store, dr incident.Drill, wait time.Duration) (incident.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		drills, err := s.Incidents(ctx, store.IncidentFilter{Kind: incident.KindDrill, Service: dr.Service, Limit: 20})
		if err != nil {
			return incident.Record{}, err
		}
		for _, r := range drills {
			if r.Drill == dr.Key {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return incident.Record{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func newDrillEndCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "end INC-ID",
		Short:   "End a drill: its PagerDuty page is resolved, and its debrief doc opens",
		Example: "  incidenthub drill end INC-12",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, rec, err := g.openRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if rec.Kind != incident.KindDrill {
				return fmt.Errorf("%s is not a drill: it is a %s", rec.Ref(), rec.Kind)
			}
			if !rec.Status.Active() {
				fprintf(cmd.OutOrStdout(), "%s has ended already (%s)\n", rec.Ref(), rec.Status)
				return nil
			}
			// Keyed by time, as a request: asked again (after fixing what
			// kept the page from resolving), it is decided again.
			now := time.Now().UTC()
			err = hubevent.NewReporter(s, s).Report(cmd.Context(), hubevent.Report{
				Key:  hubevent.RecordKey(incident.EventDrillEnded, rec.ID, strconv.FormatInt(now.UnixNano(), 10)),
				Type: incident.EventDrillEnded, At: now, IncidentID: rec.ID, Actor: requester(),
			})
			if err != nil {
				return err
			}
			fprintf(cmd.OutOrStdout(), "%s: drill ended; a running hub resolves it and opens its debrief doc\n", rec.Ref())
			return nil
		},
	}
}
