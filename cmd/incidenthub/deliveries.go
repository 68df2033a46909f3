package main

import (
	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newDeliveriesCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "deliveries", Short: "Inspect and replay stored webhook deliveries"}
	c.AddCommand(newDeliveriesListCommand(g), newDeliveriesReplayCommand(g))
	return c
}

func newDeliveriesListCommand(g *globals) *cobra.Command {
	var source, status string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deliveries, newest first, with what processing made of them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			want, err := delivery.ParseStatus(status)
			if err != nil {
				return err
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
			return writeTable(cmd.OutOrStdout(), "no deliveries", []string{"SOURCE", "ID", "RECEIVED", "STATUS", "REASON"}, ds,
				func(d delivery.Delivery) []string {
					return []string{string(d.Source), clip(d.ID, 40), stamp(d.ReceivedAt), string(d.Status), clip(d.Reason, 80)}
				})
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "only this source: pagerduty, github, jira, or incidenthub (what the hub's jobs made)")
	cmd.Flags().StringVar(&status, "status", "", "only this status: pending, processed, ignored, unprocessable, deferred, failed")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}

func newDeliveriesReplayCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "replay SOURCE DELIVERY-ID",
		Short: "Queue a stored delivery for processing again (events already applied stay applied once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Replay(cmd.Context(), incident.Source(args[0]), args[1]); err != nil {
				return err
			}
			fprintf(cmd.OutOrStdout(), "queued %s/%s; a running hub processes it within seconds\n", args[0], args[1])
			return nil
		},
	}
}
