package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newDeliveriesCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "deliveries", Short: "Inspect and replay stored webhook deliveries"}
	c.AddCommand(newDeliveriesListCommand(g), newDeliveriesShowCommand(g), newDeliveriesReplayCommand(g), newDeliveriesPurgeCommand(g))
	return c
}

func newDeliveriesListCommand(g *globals) *cobra.Command {
	var source, status string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deliveries, newest first, with what processing made of them",
		Example: `  incidenthub deliveries list --status unprocessable
  incidenthub deliveries list --source github --limit 10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			want, err := delivery.ParseStatus(status)
			if err != nil {
				return err
			}
			if source != "" && !slices.Contains(sources, incident.Source(source)) {
				return fmt.Errorf("unknown source %q (want one of pagerduty, github, jira, incidenthub)", source)
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ds, err := s.Deliveries(cmd.Context(), store.DeliveryFilter{
				Source: incident.Source(source), Status: want, Limit: limit,
			})
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]deliveryJSON, 0, len(ds))
				for _, d := range ds {
					out = append(out, deliveryOf(d, false))
				}
				return writeJSON(cmd.OutOrStdout(), map[string]any{"deliveries": out})
			}
			return writeTableNotes(cmd.OutOrStdout(), "no deliveries", []string{"SOURCE", "ID", "RECEIVED", "STATUS", "REASON"}, ds,
				func(d delivery.Delivery) []string {
					return []string{string(d.Source), clip(d.ID, 40), stamp(d.ReceivedAt), string(d.Status), printable(d.Reason)}
				})
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "only this source: pagerduty, github, jira, or incidenthub (what the hub's jobs made)")
	cmd.Flags().StringVar(&status, "status", "", "only this status: pending, processed, ignored, unprocessable, deferred, failed")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDeliveriesShowCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show SOURCE DELIVERY-ID",
		Short: "Show one stored delivery: what processing made of it, its headers, and its body pretty-printed",
		Example: `  incidenthub deliveries list --status unprocessable
  incidenthub deliveries show pagerduty 8a1d2c3e-0000-4000-8000-000000000001`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			d, err := s.Delivery(cmd.Context(), incident.Source(args[0]), args[1])
			if errors.Is(err, store.ErrNotFound) {
				return noDelivery(args[0], args[1])
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, deliveryOf(d, true))
			}
			fprintf(out, "%s/%s\n", d.Source, printable(d.ID))
			if d.Event != "" {
				fprintf(out, "  event      %s\n", printable(d.Event))
			}
			fprintf(out, "  received   %s\n", stamp(d.ReceivedAt))
			fprintf(out, "  status     %s\n", d.Status)
			if d.Reason != "" {
				fprintf(out, "  reason     %s\n", printable(d.Reason))
			}
			if d.Subject != "" {
				fprintf(out, "  waits for  %s\n", printable(d.Subject))
			}
			fprintf(out, "  attempts   %d\n", d.Attempts)
			if !d.ProcessedAt.IsZero() {
				fprintf(out, "  processed  %s\n", stamp(d.ProcessedAt))
			}
			for i, name := range slices.Sorted(maps.Keys(d.Headers)) {
				label := ""
				if i == 0 {
					label = "headers"
				}
				fprintf(out, "  %-10s %s: %s\n", label, printable(name), printable(d.Headers[name]))
			}
			fprintf(out, "  body       %d bytes\n\n%s\n", len(d.Body), prettyBody(d.Body))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the body as it came)")
	return cmd
}

// noDelivery says that a delivery is not stored, and where to look.
func noDelivery(source, id string) error {
	return fmt.Errorf("no %s delivery %q; see incidenthub deliveries list --source %s", printable(source), printable(id), printable(source))
}

// prettyBody indents a JSON body; any other body (GitHub's form-encoded
// deliveries, a malformed one kept for inspection) is shown as it came.
// Either way nothing in it can steer the terminal.
func prettyBody(body []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, body, "", "  ") == nil {
		return printableLines(b.String())
	}
	return printableLines(string(body))
}

func newDeliveriesReplayCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "replay SOURCE DELIVERY-ID",
		Short:   "Queue a stored delivery for processing again (events already applied stay applied once)",
		Example: "  incidenthub deliveries replay pagerduty 8a1d2c3e-0000-4000-8000-000000000001",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Replay(cmd.Context(), incident.Source(args[0]), args[1]); errors.Is(err, store.ErrNotFound) {
				return noDelivery(args[0], args[1])
			} else if err != nil {
				return err
			}
			fprintf(cmd.OutOrStdout(), "queued %s/%s; a running hub processes it within seconds\n", args[0], args[1])
			return nil
		},
	}
}

// finished are the statuses a delivery ends in; purge deletes only these.
var finished = []delivery.Status{delivery.StatusProcessed, delivery.StatusIgnored, delivery.StatusUnprocessable, delivery.StatusFailed}

func newDeliveriesPurgeCommand(g *globals) *cobra.Command {
	var (
		olderThan age
		status    string
	)
	cmd := &cobra.Command{
		Use:   "purge --older-than AGE [--status STATUS]",
		Short: "Delete stored deliveries that are done with (never pending or deferred ones, never what the hub's jobs made)",
		Long: `Delete stored deliveries received longer ago than --older-than, in any
finished status (processed, ignored, unprocessable, failed) or only in
--status. Records, timelines and changes stay, and so do the ids of events
already applied: a redelivery still changes nothing. The running hub prunes
processed and ignored deliveries by itself after retention.deliveries;
purge is for unprocessable and failed ones once you have looked at them.`,
		Example: `  incidenthub deliveries purge --older-than 30d --status unprocessable`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan <= 0 {
				return errors.New("--older-than is required, e.g. --older-than 30d")
			}
			statuses := finished
			if status != "" {
				st, err := delivery.ParseStatus(status)
				if err != nil {
					return err
				}
				if !slices.Contains(finished, st) {
					return fmt.Errorf("--status %s: only finished deliveries can be purged (processed, ignored, unprocessable, failed)", st)
				}
				statuses = []delivery.Status{st}
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			f := store.PruneFilter{ReceivedBefore: time.Now().Add(-time.Duration(olderThan)), Statuses: statuses, Limit: 1000}
			var total int64
			for {
				n, err := s.PruneDeliveries(cmd.Context(), f)
				total += n
				if err != nil {
					return fmt.Errorf("deleted %d, then: %w", total, err)
				}
				if n == 0 {
					break
				}
			}
			fprintf(cmd.OutOrStdout(), "deleted %d deliveries\n", total)
			return nil
		},
	}
	cmd.Flags().Var(&olderThan, "older-than", "only deliveries received longer ago than this, e.g. 30d or 12h")
	cmd.Flags().StringVar(&status, "status", "", "only this status: processed, ignored, unprocessable or failed")
	return cmd
}
