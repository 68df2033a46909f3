package main

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newFollowUpsCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "followups", Short: "Follow the follow-ups of every review through"}
	var (
		f         store.FollowUpFilter
		olderThan age
		asJSON    bool
	)
	list := &cobra.Command{
		Use:     "list",
		Example: "  incidenthub followups list --open --older-than 30d\n  incidenthub followups list --service payments --json",
		Short:   "List follow-ups across incidents, longest waiting first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if olderThan > 0 {
				f.RequestedBefore = time.Now().Add(-time.Duration(olderThan))
			}
			fs, err := s.FollowUps(cmd.Context(), f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := struct {
					FollowUps []api.FollowUp `json:"follow_ups"`
				}{FollowUps: make([]api.FollowUp, 0, len(fs))}
				for i := range fs {
					list.FollowUps = append(list.FollowUps, api.FromFollowUp(&fs[i]))
				}
				return writeJSON(out, list)
			}
			return writeTable(out, "no follow-ups"+unconfigured(cfg, f.Service, ""), []string{"INCIDENT", "TICKET", "STATUS", "AGE", "OWNER", "TITLE"}, fs,
				func(f incident.FollowUp) []string {
					return []string{incident.FormatRef(f.IncidentID), orDash(f.JiraKey), followUpStatus(&f),
						days(time.Since(f.RequestedAt)), orDash(clip(cmp.Or(f.Assignee, f.Owner), 20)), clip(f.Title, 60)}
				})
		},
	}
	list.Flags().BoolVar(&f.Open, "open", false, "only follow-ups not done (open or in progress)")
	list.Flags().StringVar(&f.Service, "service", "", "only follow-ups of this service's incidents")
	list.Flags().Var(&olderThan, "older-than", "only follow-ups asked for longer ago than this, e.g. 30d or 12h")
	list.Flags().IntVar(&f.Limit, "limit", 200, "at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)
	return c
}

// followUpStatus shows the hub's status, and Jira's name for it.
func followUpStatus(f *incident.FollowUp) string {
	switch {
	case !f.Filed():
		return "filing"
	case f.JiraStatus != "":
		return fmt.Sprintf("%s (%s)", f.Status, clip(f.JiraStatus, 20))
	}
	return string(f.Status)
}

func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Hour).String()
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}
