package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
)

// A Jira project whose tickets need a custom field, on Jira Cloud and on
// Data Center: config check --online says so ahead of time; a follow-up
// asked for meanwhile waits, held, naming the field and the key to set,
// and nothing is sent that Jira would refuse; once jira_fields gives it,
// the ticket carries it.
func TestJiraRequiredFieldsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, flavor := range []string{config.JiraCloud, config.JiraDataCenter} {
		t.Run(flavor, func(t *testing.T) {
			t.Parallel()
			dataCenter := func(cfg string) string {
				if flavor == config.JiraDataCenter {
					// A personal access token, and no email.
					return strings.Replace(cfg, "email: bot@example.com, api_token: jira-token", "flavor: datacenter, api_token: jira-pat", 1)
				}
				return cfg
			}
			path, base, _, jira, _, hub := followUpHub(t, "", dataCenter)
			if flavor == config.JiraDataCenter {
				jira.Flavor, jira.APIToken = "datacenter", "jira-pat"
			}
			jira.Fields["PAY"] = []jiratest.Field{{ID: "customfield_10042", Name: "Team", Required: true}}
			requireRequiredFieldsFlow(t, path, base, jira, hub)
		})
	}
}

func requireRequiredFieldsFlow(t *testing.T, path, base string, jira *jiratest.Fake, hub *hubProcess) {
	t.Helper()
	msg := cliErr(t, "config", "check", "--online", "--config", path)
	require.Contains(t, msg, "services[0].jira_fields.customfield_10042: Jira project PAY requires Team for a Task: give it a value")

	cli(t, "webhook", "send", "--config", path, "--url", base, "--source", "github", "--event", "issue_comment",
		"--file", followUpComment(t, 601, "/followup Alert on connection pool saturation"))
	reason := "Jira project PAY requires fields the hub has no value for, for a Task: Team (customfield_10042): set services[0].jira_fields.customfield_10042"
	var out string
	require.Eventually(t, func() bool {
		out = cli(t, "actions", "list", "--config", path)
		// The reason is wrapped under its row.
		return strings.Contains(strings.Join(strings.Fields(out), " "), reason)
	}, 20*time.Second, 100*time.Millisecond, "the job is held, saying why")
	require.Zero(t, jira.Creates(), "nothing is sent that Jira would refuse")
	id := regexp.MustCompile(`(?m)^(\d+)\s+jira\.file_followup`).FindStringSubmatch(out)
	require.NotNil(t, id, out)

	hub.kill()
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = []byte(strings.Replace(string(cfgText), "jira_project: PAY}",
		"jira_project: PAY, jira_fields: {customfield_10042: {value: Payments}}}", 1))
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))
	require.Contains(t, cli(t, "config", "check", "--online", "--config", path),
		"jira (online): services[0] payments: PAY Task, 9 fields, 1 given by jira_fields")
	startHub(t, path, base)
	cli(t, "actions", "retry", id[1], "--config", path)
	require.Eventually(t, func() bool { return len(jira.Issues()) == 1 }, 20*time.Second, 100*time.Millisecond, "the ticket is filed")
	require.JSONEq(t, `{"value":"Payments"}`, string(jira.Issues()[0].Fields["customfield_10042"]))
	require.Empty(t, jira.Violations())
}
