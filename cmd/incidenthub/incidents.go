package main

import (
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newIncidentsCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "incidents", Short: "List and show incident records"}
	c.AddCommand(newIncidentsListCommand(g), newIncidentsShowCommand(g), newIncidentsReviewCommand(g))
	return c
}

func newIncidentsReviewCommand(g *globals) *cobra.Command {
	var preview bool
	cmd := &cobra.Command{
		Use:   "review INC-ID",
		Short: "Ask for a review doc now (how an optional review opens; it also overrides none), or --preview it",
		Example: `  incidenthub incidents review INC-12            # open the review doc now
  incidenthub incidents review INC-12 --preview  # print it as it would be posted, without GitHub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incident.ParseRef(args[0])
			if err != nil {
				return err
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if preview {
				docs, err := github.DocsFrom(cfg)
				if err != nil {
					return err
				}
				doc, summary, err := docs.Preview(cmd.Context(), s, id, time.Now())
				if err != nil {
					return err
				}
				fprintf(cmd.OutOrStdout(), "%s", api.PreviewText(doc, summary))
				return nil
			}
			rec, err := s.Incident(cmd.Context(), id)
			if err != nil {
				return err
			}
			if rec.ReviewDocNumber > 0 {
				fprintf(cmd.OutOrStdout(), "%s already has its review doc, %s\n", rec.Ref(), rec.ReviewDoc)
				return nil
			}
			// A request, not a change: the hub's router decides on it in
			// order with everything else that happens to the record.
			now := time.Now().UTC()
			err = hubevent.NewReporter(s, s).Report(cmd.Context(), hubevent.Report{
				Key: hubevent.RecordKey(incident.EventReviewRequested, rec.ID, strconv.FormatInt(now.UnixNano(), 10)), Type: incident.EventReviewRequested,
				At: now, IncidentID: rec.ID, Actor: requester(),
			})
			if err != nil {
				return err
			}
			fprintf(cmd.OutOrStdout(), "%s: review doc requested; a running hub opens it within seconds\n", rec.Ref())
			return nil
		},
	}
	cmd.Flags().BoolVar(&preview, "preview", false, "print the review doc (and the summary comment) as the hub would post them now; GitHub is not called")
	return cmd
}

// requester names who asked, as the operating system knows them.
func requester() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func newIncidentsListCommand(g *globals) *cobra.Command {
	var (
		f      store.IncidentFilter
		status string
		kind   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Example: "  incidenthub incidents list --status open\n  incidenthub incidents list --service payments --severity SEV1 --json",
		Short:   "List incidents, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.Status, err = incident.ParseStatus(status); err != nil {
				return err
			}
			if f.Kind, err = incident.ParseKind(kind); err != nil {
				return err
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			recs, err := s.Incidents(cmd.Context(), f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := api.List{Incidents: make([]api.Incident, 0, len(recs))}
				for i := range recs {
					list.Incidents = append(list.Incidents, api.FromRecord(&recs[i]))
				}
				return writeJSON(out, list)
			}
			return writeTable(out, "no incidents"+unconfigured(cfg, f.Service, f.Severity), []string{"ID", "STATUS", "SEVERITY", "SERVICE", "OPENED", "TITLE"}, recs,
				func(r incident.Record) []string {
					return []string{r.Ref(), string(r.Status), r.Severity, clip(r.Service, 20), stamp(r.OpenedAt), clip(r.Title, 60)}
				})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only this status: open, acknowledged, resolved, reviewing, closed")
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	cmd.Flags().StringVar(&f.Severity, "severity", "", "only this severity")
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: incident, awareness, drill")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "at most this many")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON as the API does")
	return cmd
}

func newIncidentsShowCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show INC-ID",
		Example: "  incidenthub incidents show INC-12\n  incidenthub incidents show INC-12 --json",
		Short:   "Show an incident with its timeline",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, rec, err := g.openRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), api.FromRecord(&rec))
			}
			printIncident(cmd, &rec)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON as the API does")
	return cmd
}

func printIncident(cmd *cobra.Command, r *incident.Record) { printRecord(cmd.OutOrStdout(), r) }

// printRecord writes a record and its timeline for people to read.
func printRecord(out io.Writer, r *incident.Record) {
	fprintf(out, "%s  %s\n", r.Ref(), printable(r.Title))
	fprintf(out, "  status     %s\n", r.Status)
	fprintf(out, "  severity   %s\n", r.Severity)
	fprintf(out, "  service    %s\n", printable(r.Service))
	fprintf(out, "  kind       %s\n", r.Kind)
	fprintf(out, "  commander  %s\n", orDash(printable(r.Commander)))
	for _, role := range r.HeldRoles() {
		fprintf(out, "  role       %s: %s (since %s)\n", printable(role.Name), printable(role.Person), stamp(role.Since))
	}
	fprintf(out, "  responders %s\n", orDash(printable(strings.Join(r.Responders, ", "))))
	fprintf(out, "  opened     %s\n", stamp(r.OpenedAt))
	fprintf(out, "  acked      %s%s\n", stamp(r.AcknowledgedAt), since(r.OpenedAt, r.AcknowledgedAt))
	fprintf(out, "  resolved   %s%s\n", stamp(r.ResolvedAt), since(r.OpenedAt, r.ResolvedAt))
	for _, p := range r.Pages {
		fprintf(out, "  page       #%d %s (%s) %s\n", p.Number, printable(p.Title), printable(string(p.Status)), printable(p.URL))
	}
	if len(r.FollowUps) > 0 {
		fprintf(out, "\nFollow-ups\n")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, f := range r.FollowUps {
			fprintf(tw, "  %s\t%s\t%s\n", orDash(printable(f.JiraKey)), followUpStatus(&f), printable(f.Title))
		}
		_ = tw.Flush()
	}
	fprintf(out, "\nTimeline\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range r.Timeline {
		fprintf(tw, "  %s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05Z"), e.Kind, printable(e.Summary))
	}
	_ = tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since renders the time from start to t, as reviews measure it.
func since(start, t time.Time) string {
	if t.IsZero() || start.IsZero() {
		return ""
	}
	return fmt.Sprintf("  (+%s)", t.Sub(start).Round(time.Second))
}
