package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCommand is the probe for orchestrators whose images have
// no shell or curl (Docker's HEALTHCHECK on the distroless image): it asks
// the hub on this machine and exits non-zero unless it answers 200.
func newHealthcheckCommand(g *globals) *cobra.Command {
	var (
		ready   bool
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:     "healthcheck",
		Example: "  incidenthub healthcheck --ready   # in a container's HEALTHCHECK",
		Short:   "Ask the local hub whether it is alive (/healthz) or ready (/readyz, --ready); exit 1 if not",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				// Only the listen address is needed: the secrets may be
				// unset where the probe runs.
				cfg, err := g.storeConfig()
				if err != nil {
					return err
				}
				url = baseURL(cfg.Listen)
			}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %d", path, resp.StatusCode)
			}
			fprintf(cmd.OutOrStdout(), "%s ok\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&ready, "ready", false, "ask /readyz (the store answers) instead of /healthz")
	cmd.Flags().StringVar(&url, "url", "", "the hub's URL (default: from listen in the configuration)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
