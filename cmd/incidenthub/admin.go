package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
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
	var online bool
	check := &cobra.Command{
		Use: "check",
		Example: `  incidenthub config check --config /etc/incidenthub.yaml
  incidenthub config check --online   # also ask Jira which fields each service's tickets need`,
		Short: "Validate the configuration and report every problem",
		Args:  cobra.NoArgs,
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
			if err := github.CheckApp(cfg.GitHub); err != nil {
				return &config.Error{File: g.configPath, Problems: []config.Problem{{Path: "github.app.private_key_file", Msg: err.Error()}}}
			}
			identity := cfg.GitHub.Identity()
			if identity == "" {
				identity = "none (review docs wait, held: set github.token or github.app)"
			}
			var jiraLines []string
			if online {
				if jiraLines, err = checkJiraOnline(cmd.Context(), g.configPath, cfg); err != nil {
					return err
				}
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
			fprintf(out, "  github identity: %s\n", identity)
			fprintf(out, "  review template: %s\n", template)
			for _, l := range jiraLines {
				fprintf(out, "  %s\n", l)
			}
			return nil
		},
	}
	check.Flags().BoolVar(&online, "online", false, "also read each service's Jira create screen and report the required fields jira_fields does not give (calls Jira)")
	c.AddCommand(check)
	return c
}

// checkJiraOnline asks Jira, for each service with a jira_project, which
// fields its tickets need, as the hub will before filing one: a required
// field jira_fields does not give, a field Jira's screen does not have, or
// an issue type the project lacks is a problem at its key.
func checkJiraOnline(ctx context.Context, file string, cfg *config.Config) ([]string, error) {
	if held := jira.FollowUpsHeld(cfg.Jira); held != "" {
		return []string{"jira (online): not checked: " + held}, nil
	}
	client, err := jira.NewClient(cfg.Jira, httpclient.New(httpclient.Options{Timeout: 15 * time.Second}))
	if err != nil {
		return nil, err
	}
	tickets := jira.NewTickets(client, cfg.Jira.Flavor)
	var (
		lines    []string
		problems []config.Problem
	)
	for i, svc := range cfg.Services {
		if svc.JiraProject == "" {
			continue
		}
		path := fmt.Sprintf("services[%d]", i)
		screen, types, err := tickets.CreateFields(ctx, svc.JiraProject, svc.JiraIssueType)
		switch {
		case errors.Is(err, jira.ErrNoIssueType):
			problems = append(problems, config.Problem{Path: path + ".jira_issue_type",
				Msg: fmt.Sprintf("Jira project %s has no issue type %q (it has %s)", svc.JiraProject, svc.JiraIssueType, strings.Join(types, ", "))})
			continue
		case err != nil:
			problems = append(problems, config.Problem{Path: path + ".jira_project", Msg: err.Error()})
			continue
		}
		for _, fm := range jira.MissingFields(screen, svc.JiraFields) {
			problems = append(problems, config.Problem{Path: path + ".jira_fields." + fm.ID,
				Msg: fmt.Sprintf("Jira project %s requires %s for a %s: give it a value", svc.JiraProject, fm.Name, svc.JiraIssueType)})
		}
		for _, id := range slices.Sorted(maps.Keys(svc.JiraFields)) {
			if !slices.ContainsFunc(screen, func(fm jira.FieldMeta) bool { return fm.ID == id }) {
				problems = append(problems, config.Problem{Path: path + ".jira_fields." + id,
					Msg: fmt.Sprintf("not on Jira project %s's create screen for a %s: Jira would refuse it", svc.JiraProject, svc.JiraIssueType)})
			}
		}
		lines = append(lines, fmt.Sprintf("jira (online): %s %s: %s %s, %d fields, %d given by jira_fields",
			path, svc.Name, svc.JiraProject, svc.JiraIssueType, len(screen), len(svc.JiraFields)))
	}
	if len(problems) > 0 {
		return nil, &config.Error{File: file, Problems: problems}
	}
	return lines, nil
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
