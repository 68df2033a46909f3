package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
)

func newWebhookCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "webhook", Short: "Send signed sample webhooks to a running hub"}
	var source, file, target, id, event string
	send := &cobra.Command{
		Use:     "send",
		Short:   "Sign a payload with the configured secret and POST it, as the vendor would",
		Example: "  incidenthub webhook send --source pagerduty --file testdata/pagerduty/incident.triggered.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.config()
			if err != nil {
				return err
			}
			body, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if target == "" {
				target = baseURL(cfg.Listen)
			}
			if id == "" {
				id = randomID()
			}
			req, err := signedRequest(cfg, source, event, target, id, body)
			if err != nil {
				return err
			}
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			fprintf(cmd.OutOrStdout(), "%s %s\n%s", resp.Status, req.URL, answer)
			if resp.StatusCode >= 300 {
				return fmt.Errorf("the hub answered %s", resp.Status)
			}
			return nil
		},
	}
	send.Flags().StringVar(&source, "source", "pagerduty", "vendor to sign as: pagerduty, github or jira")
	send.Flags().StringVar(&file, "file", "", "payload file to send")
	send.Flags().StringVar(&target, "url", "", "hub base URL (default: from listen in the config)")
	send.Flags().StringVar(&id, "id", "", "delivery id (default: random; repeat one to see deduplication)")
	send.Flags().StringVar(&event, "event", "", "GitHub event name (X-GitHub-Event), e.g. deployment_status")
	_ = send.MarkFlagRequired("file")
	c.AddCommand(send)
	return c
}

func signedRequest(cfg *config.Config, source, event, target, id string, body []byte) (*http.Request, error) {
	var secrets []config.Secret
	switch source {
	case "pagerduty":
		secrets = cfg.PagerDuty.WebhookSecrets
	case "github":
		secrets = cfg.GitHub.WebhookSecrets
		if event == "" {
			return nil, errors.New("--event is required for github (the X-GitHub-Event header)")
		}
	case "jira":
		secrets = cfg.Jira.WebhookSecrets
	default:
		return nil, fmt.Errorf("source %q: want pagerduty, github or jira", source)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%s.webhook_secrets is empty: the hub would not accept this delivery", source)
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(target, "/")+"/webhooks/"+source, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch source {
	case "pagerduty":
		req.Header.Set("User-Agent", "PagerDuty-Webhook/V3.0")
		req.Header.Set(pagerduty.WebhookIDHeader, id)
		req.Header.Set(pagerduty.SignatureHeader, pagerduty.Sign(secrets[0].Value(), body))
	case "github":
		req.Header.Set("User-Agent", "GitHub-Hookshot/incidenthub")
		req.Header.Set(github.DeliveryHeader, id)
		req.Header.Set(github.EventHeader, event)
		req.Header.Set(github.SignatureHeader, github.Sign(secrets[0].Value(), body))
	case "jira":
		req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
		req.Header.Set(jira.IdentifierHeader, id)
		req.Header.Set(jira.SignatureHeader, jira.Sign(secrets[0].Value(), body))
	}
	return req, nil
}

// baseURL turns a listen address into a URL to reach it locally.
func baseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func randomID() string { return rand.Text() }
