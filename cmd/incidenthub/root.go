package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// globals are the flags every command takes.
type globals struct {
	configPath string
	logLevel   string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "incidenthub",
		Short:         "Correlate PagerDuty, GitHub and Jira webhooks into incident records",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	defaultConfig := "incidenthub.yaml"
	if env := os.Getenv("INCIDENTHUB_CONFIG"); env != "" {
		defaultConfig = env
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", defaultConfig, "configuration file (env INCIDENTHUB_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(
		newServeCommand(g),
		newMigrateCommand(g),
		newConfigCommand(g),
		newIncidentsCommand(g),
		newDeliveriesCommand(g),
		newChangesCommand(g),
		newFollowUpsCommand(g),
		newActionsCommand(g),
		newWebhookCommand(g),
		newHealthcheckCommand(g),
		newDrillCommand(g),
		newReportCommand(g),
		newExportCommand(g),
		newDemoCommand(),
		newVersionCommand(),
	)
	return root
}

// config loads the whole configuration, every ${ENV} reference set: for
// serve, config check and webhook send.
func (g *globals) config() (*config.Config, error) {
	return config.LoadFile(g.configPath)
}

// storeConfig loads the configuration for a command that only opens the
// store: a variable outside storage (a webhook secret) may be unset, so
// that reading records needs only the storage settings.
func (g *globals) storeConfig() (*config.Config, error) {
	return config.LoadFileForStore(g.configPath)
}

func (g *globals) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// openRecord opens the store and reads the record ref names (INC-12),
// with its timeline; the caller closes the store.
func (g *globals) openRecord(ctx context.Context, ref string) (*store.Store, incident.Record, error) {
	id, err := incident.ParseRef(ref)
	if err != nil {
		return nil, incident.Record{}, err
	}
	s, _, err := g.openStore(ctx)
	if err != nil {
		return nil, incident.Record{}, err
	}
	rec, err := s.Incident(ctx, id)
	if err != nil {
		s.Close()
		return nil, incident.Record{}, err
	}
	return s, rec, nil
}

// openStore opens the configured store for commands that read or change
// records directly. It never migrates: the database may belong to a
// running hub of another version; it only checks that the schema is current.
// Its configuration is storeConfig's: secrets may be unset, and empty.
func (g *globals) openStore(ctx context.Context) (*store.Store, *config.Config, error) {
	return g.open(ctx, (*store.Store).CheckSchema)
}

// migrateStore opens the store and applies pending migrations.
func (g *globals) migrateStore(ctx context.Context) (*store.Store, *config.Config, error) {
	return g.open(ctx, (*store.Store).Migrate)
}

func (g *globals) open(ctx context.Context, prepare func(*store.Store, context.Context) error) (*store.Store, *config.Config, error) {
	cfg, err := g.storeConfig()
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(cfg.Storage)
	if err != nil {
		return nil, nil, err
	}
	if err := prepare(s, ctx); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, cfg, nil
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Example: "  incidenthub version\n  incidenthub --version",
		Short:   "Print the version, the commit it was built from, and when",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fprintf(cmd.OutOrStdout(), "%s\n", versionLine())
		},
	}
}

// vcsCommit is the commit passed at build time, else Go's VCS stamp
// (with "-dirty" for uncommitted changes), else "unknown".
func vcsCommit() (rev, dirty string) {
	rev = commit
	if info, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, kv := range info.Settings {
			switch {
			case kv.Key == "vcs.revision" && len(kv.Value) >= 12:
				rev = kv.Value[:12]
			case kv.Key == "vcs.modified" && kv.Value == "true":
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return rev, dirty
}

// commitOf is the commit the binary was built from, as versionLine
// names it.
func commitOf() string {
	rev, dirty := vcsCommit()
	return rev + dirty
}

// versionLine says what is running: the version, the commit Go stamped
// into the binary (with "-dirty" for uncommitted changes), when it was
// built, and the Go release. `version` and `--version` print it.
func versionLine() string {
	rev, dirty := vcsCommit()
	date := buildDate
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("incidenthub %s (commit %s%s, built %s, %s)", version, rev, dirty, date, runtime.Version())
}
