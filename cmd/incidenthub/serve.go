package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/retention"
	"github.com/incidenthub/incidenthub/internal/secretwatch"
	"github.com/incidenthub/incidenthub/internal/store"
)

func newServeCommand(g *globals) *cobra.Command {
	var noMigrate bool
	cmd := &cobra.Command{
		Use:     "serve",
		Example: "  incidenthub serve --config /etc/incidenthub.yaml\n  incidenthub serve --no-migrate   # several replicas: run migrate once first",
		Short:   "Receive webhooks, process them and serve the API",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, g.logger(), fx.Supply(store.SkipMigrations(noMigrate)))
		},
	}
	cmd.Flags().BoolVar(&noMigrate, "no-migrate", false,
		"do not migrate the database at start; refuse to start when it is behind (run `incidenthub migrate` first)")
	return cmd
}

// serve runs the app until SIGINT or SIGTERM, then stops it: in-flight
// requests drain and the delivery being processed finishes.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...fx.Option) error {
	app := fx.New(appOptions(cfg, log), fx.Options(opts...))
	if err := app.Err(); err != nil {
		return err
	}
	// Signals are caught from before the start: fx relays them only once
	// every start hook has run, and the listener is up (readiness answers)
	// before that, so a SIGTERM sent then would kill the process at once.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	select {
	case sig := <-signals:
		log.Info("stopping", "signal", sig.String())
	case sig := <-app.Wait():
		log.Info("stopping", "signal", sig.Signal.String())
	}
	stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), app.StopTimeout())
	defer cancelStop()
	return app.Stop(stopCtx)
}

// appOptions is the whole app: one module per component and connector.
func appOptions(cfg *config.Config, log *slog.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg, log),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log}
			l.UseLogLevel(slog.LevelDebug)
			return l
		}),
		config.Module,
		secretwatch.Module,
		metrics.Module,
		fx.Invoke(func(m *metrics.Metrics) { m.RegisterBuild(metrics.Build{Version: version, Commit: commitOf()}) }),
		store.Module,
		inbox.Module,
		pipeline.Module,
		actions.Module,
		httpserver.Module,
		api.Module,
		hubevent.Module,
		retention.Module,
		connectors,
	)
}

// connectors are the vendors the hub speaks to, each one module: its
// endpoint, normaliser and jobs register themselves through fx groups.
var connectors = fx.Options(
	pagerduty.Module,
	github.Module,
	jira.Module,
)
