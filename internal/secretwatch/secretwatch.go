// Package secretwatch reads the configuration's secret files again when
// they change or the process gets SIGHUP, so that rotating a secret
// (Kubernetes and Docker secrets, a vault agent's files) needs no restart.
package secretwatch

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/lifecycle"
)

// Module watches the secret files of the app's configuration.
var Module = fx.Module("secretwatch", fx.Invoke(watch))

// settle lets a rotation finish before the files are read: an editor or
// Kubernetes' symlink swap changes a directory in several steps.
const settle = 200 * time.Millisecond

func watch(lc fx.Lifecycle, cfg *config.Config, log *slog.Logger) error {
	log = log.With("component", "secrets")
	// SIGHUP would end the process by default; here it means "read the
	// secret files again".
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	files := cfg.SecretFiles()
	var w *fsnotify.Watcher
	if len(files) > 0 {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			signal.Stop(hup)
			return err
		}
		// Directories, not files: Kubernetes replaces a secret by
		// swapping a symlink in its directory, which a watch on the old
		// file never sees.
		seen := map[string]bool{}
		for _, f := range files {
			if dir := filepath.Dir(f); !seen[dir] {
				seen[dir] = true
				if err := w.Add(dir); err != nil {
					log.Warn("cannot watch a secret file's directory; SIGHUP still reloads it", "dir", dir, "err", err)
				}
			}
		}
		log.Info("watching secret files; SIGHUP reloads them too", "files", len(files))
	}
	lifecycle.Go(lc, func(ctx context.Context) {
		defer signal.Stop(hup)
		var events <-chan fsnotify.Event
		var errs <-chan error
		if w != nil {
			defer w.Close()
			events, errs = w.Events, w.Errors
		}
		var settled <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(cfg, log, "SIGHUP")
			case <-events:
				settled = time.After(settle)
			case <-settled:
				settled = nil
				reload(cfg, log, "file changed")
			case err := <-errs:
				log.Warn("watching secret files", "err", err)
			}
		}
	})
	return nil
}

func reload(cfg *config.Config, log *slog.Logger, cause string) {
	changed, err := cfg.ReloadSecrets()
	if err != nil {
		log.Warn("a secret file could not be read; its secret stays as it was until the next reload", "cause", cause, "err", err)
	}
	if len(changed) > 0 {
		log.Info("secrets reloaded", "cause", cause, "files", changed)
	} else if cause == "SIGHUP" && err == nil {
		log.Info("secrets unchanged", "cause", cause)
	}
}
