package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "migrate",
		Example: "  incidenthub migrate --config /etc/incidenthub.yaml   # before serve --no-migrate on several replicas",
		Short:   "Apply database migrations, the hub's and its job queue's (serve applies them too, unless --no-migrate)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := g.migrateStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			// The job queue's tables too, so that `serve --no-migrate`
			// finds everything in place.
			q, err := actions.NewQueue(s, actions.Config{InsertOnly: true, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			if err := q.Migrate(cmd.Context()); err != nil {
				return err
			}
			cmd.Println("migrations applied")
			return nil
		},
	}
}

func newConfigCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	c.AddCommand(&cobra.Command{
		Use:     "check",
		Example: "  incidenthub config check --config /etc/incidenthub.yaml",
		Short:   "Validate the configuration and report every problem",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			template := "the hub's"
			if cfg.Review.Template != "" {
				t, err := reviewdoc.LoadTemplate(cfg.Review.Template)
				if err != nil {
					return templateProblems(g.configPath, err)
				}
				template = fmt.Sprintf("%s (version %s)", cfg.Review.Template, t.Version)
			}
			out := cmd.OutOrStdout()
			fprintf(out, "%s: ok\n", g.configPath)
			fprintf(out, "  storage: %s %s\n", cfg.Storage.Driver, config.Redacted(cfg.Storage.DSN))
			fprintf(out, "  %d severities, %d services\n", len(cfg.Severities), len(cfg.Services))
			for _, src := range []struct {
				name    string
				secrets int
			}{
				{"pagerduty", len(cfg.PagerDuty.WebhookSecrets)},
				{"github", len(cfg.GitHub.WebhookSecrets)},
				{"jira", len(cfg.Jira.WebhookSecrets)},
			} {
				state := "off (no webhook_secrets)"
				if src.secrets > 0 {
					state = "on"
				}
				fprintf(out, "  webhooks/%s: %s\n", src.name, state)
			}
			api := "off (no api.tokens)"
			if len(cfg.API.Tokens) > 0 {
				api = "on"
			}
			fprintf(out, "  api: %s\n", api)
			fprintf(out, "  review template: %s\n", template)
			return nil
		},
	})
	return c
}

// templateProblems reports what is wrong with review.template as the
// configuration's other problems are reported, one a line.
func templateProblems(file string, err error) error {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	cerr := &config.Error{File: file}
	for _, e := range errs {
		cerr.Problems = append(cerr.Problems, config.Problem{Path: "review.template", Msg: e.Error()})
	}
	return cerr
}
