package main

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/internal/export"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/report"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newExportCommand(g *globals) *cobra.Command {
	var (
		from                   periodStart
		until, service, format string
		organisation           string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export closed reviews with people pseudonymised: markdown, JSON, or the VOID's fields",
		Long: `Export the closed reviews of incidents opened in a period, for sharing beyond the team. Every name,
login and email the records and the configuration know becomes a pseudonym (Person 1, Person 2, …,
a person keeps the number the first export gave them in every export after it, as the store keeps
the numbers), and any other email or @mention in free text is blanked. --format void writes the fields the VOID (the Verica Open
Incident Database) collects: organisation, date, duration, impact and a link to the report.`,
		Example: `  incidenthub export --format markdown > reviews.md
  incidenthub export --since 365d --format void --organisation "Acme Inc." > void.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			end, err := periodEnd(until)
			if err != nil {
				return err
			}
			var start time.Time
			if cmd.Flags().Changed("since") {
				start = from.from(end)
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := knownService(cmd.Context(), s, cfg, service); err != nil {
				return err
			}
			// Every closed review, however many: an export is a file, not
			// a page. The period's are exported; all of them say who the
			// hub knows, since anyone may be named in a review's text.
			all, err := report.Records(cmd.Context(), s, store.IncidentFilter{Status: incident.StatusClosed,
				Kind: incident.KindIncident}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0, nil)
			if err != nil {
				return err
			}
			slices.SortFunc(all, func(a, b incident.Record) int { return cmp.Compare(a.ID, b.ID) })
			recs := slices.DeleteFunc(slices.Clone(all), func(r incident.Record) bool {
				return r.OpenedAt.Before(start) || !r.OpenedAt.Before(end) || service != "" && r.Service != service
			})
			// People keep the numbers earlier exports gave them; those
			// new to this one get the next, kept for the exports after.
			var red *export.Redactor
			if err := s.KeepPseudonyms(cmd.Context(), func(given map[string]int) map[string]int {
				var added map[string]int
				red, added = export.NewRedactorFrom(all, cfg.People, given)
				return added
			}); err != nil {
				return err
			}
			reviews := export.Reviews(recs, export.Options{Severities: cfg.Severities, People: cfg.People, Redactor: red})
			out := cmd.OutOrStdout()
			switch format {
			case "void":
				owner, _, _ := strings.Cut(cfg.GitHub.ReviewRepo, "/")
				return export.VOID(out, reviews, cmp.Or(organisation, owner))
			case "json":
				return export.JSON(out, reviews)
			default:
				return export.Markdown(out, reviews)
			}
		},
	}
	cmd.Flags().Var(&from, "since", "only incidents opened since: an age (365d) before --until, or a date (default all)")
	cmd.Flags().StringVar(&until, "until", "", "only incidents opened before this date (default now)")
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown, json or void")
	cmd.Flags().StringVar(&organisation, "organisation", "", "the organisation the VOID names (default the review repo's owner)")
	cmd.PreRunE = func(*cobra.Command, []string) error { return oneOf(format, "markdown", "json", "void") }
	return cmd
}
