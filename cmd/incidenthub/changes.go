package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/incident"
)

func newChangesCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "changes", Short: "The change log: deploys, merges and releases per service"}
	var (
		service string
		since   = age(24 * time.Hour)
		limit   int
		asJSON  bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List changes, newest first",
		Example: `  incidenthub changes list --service payments --since 2h
  incidenthub changes list --since 2w --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			changes, err := s.Changes(cmd.Context(), service, time.Now().Add(-time.Duration(since)), limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]api.Change, 0, len(changes))
				for _, ch := range changes {
					c := api.FromChange(ch, time.Time{})
					c.Relation = ""
					list = append(list, c)
				}
				return writeJSON(out, map[string]any{"changes": list})
			}
			// The summary says the kind and the state, and is what people
			// read: whole, under its row when it does not fit.
			return writeTableNotes(out, "no changes"+unconfigured(cfg, service, ""), []string{"AT", "SERVICE", "CHANGE"}, changes,
				func(ch incident.Change) []string {
					return []string{stamp(ch.At), clip(ch.Service, 20), printable(ch.Summary())}
				})
		},
	}
	list.Flags().StringVar(&service, "service", "", "only this service")
	list.Flags().Var(&since, "since", "how far back, e.g. 2h, 30d or 2w")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON, as the API shows changes")
	c.AddCommand(list)
	return c
}
