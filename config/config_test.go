package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"gopkg.in/yaml.v3"

	"github.com/incidenthub/incidenthub/config"
)

// oneSeverity completes an inline document: a configuration needs at least
// one severity to be valid.
const oneSeverity = `
severities:
  - name: SEV1
    review: required
`

// lookup resolves ${NAME} from vars only, never from the process
// environment, so that tests can run in parallel.
func lookup(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// parseFile parses testdata/name, naming it name in errors.
func parseFile(t *testing.T, name string, vars map[string]string) (*config.Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return config.Parse(name, data, lookup(vars))
}

// requireProblems asserts that err is a *config.Error and returns its problems.
func requireProblems(t *testing.T, err error) []config.Problem {
	t.Helper()
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	return cerr.Problems
}

// requireOneProblem asserts that err reports exactly one problem, and returns it.
func requireOneProblem(t *testing.T, err error) config.Problem {
	t.Helper()
	problems := requireProblems(t, err)
	require.Len(t, problems, 1, "want exactly one problem, got: %v", err)
	return problems[0]
}

func TestParseExample(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile("incidenthub.example.yaml")
	require.NoError(t, err)

	t.Run("WithEnvironment", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.Parse("incidenthub.example.yaml", data, lookup(map[string]string{
			"INCIDENTHUB_API_TOKEN":    "api-token",
			"PAGERDUTY_WEBHOOK_SECRET": "pd-secret",
			"GITHUB_WEBHOOK_SECRET":    "gh-secret",
			"JIRA_WEBHOOK_SECRET":      "jira-secret",
		}))
		require.NoError(t, err)
		require.Equal(t, &config.Config{
			Listen: "127.0.0.1:8080",
			Storage: config.Storage{
				Driver:      config.DriverSQLite,
				DSN:         "file:data/incidenthub.db",
				Synchronous: "full",
			},
			Intake: config.Intake{MaxBodyBytes: 5 << 20, MaxBytesInFlight: 32 << 20},
			API:    config.API{Tokens: config.Secrets("api-token")},
			PagerDuty: config.PagerDuty{
				WebhookSecrets: config.Secrets("pd-secret"),
				FromEmail:      "oncall@example.com",
				Notes:          config.Notes{Triage: true, LiveChanges: true}, // defaults
			},
			GitHub: config.GitHub{WebhookSecrets: config.Secrets("gh-secret"), ReviewRepo: "acme/incidents"},
			Jira:   config.Jira{WebhookSecrets: config.Secrets("jira-secret"), Flavor: config.JiraCloud, SearchLag: 30 * time.Second},
			Severities: []config.Severity{
				{
					Name:                "SEV1",
					Description:         "Customer-facing outage or data loss for many customers.",
					PagerDutyPriorities: []string{"P1"},
					Review:              config.ReviewRequired,
					RolesExpected:       []string{"commander", "communications"},
					RolesGrace:          15 * time.Minute,
				},
				{
					Name:                "SEV2",
					Description:         "Major degradation, or an outage for some customers.",
					PagerDutyPriorities: []string{"P2"},
					Urgency:             "high",
					Review:              config.ReviewRequired,
				},
				{
					Name:                "SEV3",
					Description:         "Minor degradation with a workaround; no data at risk.",
					PagerDutyPriorities: []string{"P3"},
					Review:              config.ReviewOptional,
				},
				{
					Name:                "SEV4",
					Description:         "No customer impact: awareness, near misses, risky migrations.",
					PagerDutyPriorities: []string{"P4", "P5"},
					Urgency:             "low",
					Review:              config.ReviewNone,
				},
			},
			Services: []config.Service{
				{
					Name:                "payments",
					PagerDutyServiceIDs: []string{"PA2P440"},
					GitHubRepos:         []string{"acme/payments", "Codertocat/Hello-World"},
					DeployEnvironments:  []string{"production"},
					DeployWorkflows:     []string{"deploy.yml"},
					JiraProject:         "PAY",
					JiraIssueType:       "Task", // default
					Playbook:            "https://wiki.example.com/playbooks/payments",
				},
				{
					Name:                "checkout",
					PagerDutyServiceIDs: []string{"PLVTM9H"},
					GitHubRepos:         []string{"acme/checkout"},
					DeployEnvironments:  []string{"production"}, // default
					JiraProject:         "CHK",
					JiraIssueType:       "Task", // default
					Playbook:            "https://wiki.example.com/playbooks/checkout",
				},
			},
			Correlation: config.Correlation{MergeWindow: 30 * time.Minute, ChangeLookback: 2 * time.Hour},
			Review:      config.Review{OpenAfter: 12 * time.Hour, DueWithin: 48 * time.Hour},
			Awareness: config.Awareness{
				Labels:           []string{"risky-migration"},
				AutoResolveAfter: 2 * time.Hour, // default
			},
			People:     []config.Person{{Name: "PIG 208", GitHub: "pig208", JiraAccountID: "5b10ac8d82e05b22cc7d4ef5"}},
			Jobs:       config.Jobs{Timeout: 2 * time.Minute, RescueAfter: 5 * time.Minute}, // defaults
			Processing: config.Processing{Lease: 30 * time.Second},
			Retention:  config.Retention{Deliveries: 30 * 24 * time.Hour}, // default
		}, cfg)
	})

	t.Run("WithoutEnvironment", func(t *testing.T) {
		t.Parallel()

		_, err := config.Parse("incidenthub.example.yaml", data, lookup(nil))
		require.Equal(t, []config.Problem{
			{Path: "api.tokens[0]", Msg: "environment variable INCIDENTHUB_API_TOKEN is not set"},
			{Path: "pagerduty.webhook_secrets[0]", Msg: "environment variable PAGERDUTY_WEBHOOK_SECRET is not set"},
			{Path: "github.webhook_secrets[0]", Msg: "environment variable GITHUB_WEBHOOK_SECRET is not set"},
			{Path: "jira.webhook_secrets[0]", Msg: "environment variable JIRA_WEBHOOK_SECRET is not set"},
		}, requireProblems(t, err))
	})
}

func TestParseGood(t *testing.T) {
	t.Parallel()

	cfg, err := parseFile(t, "conf.good.yaml", nil)
	require.NoError(t, err)

	require.Equal(t, ":9090", cfg.Listen)
	require.Equal(t, []config.Hook{{Repo: "acme/payments", ID: 101}, {Org: "acme", ID: 102}}, cfg.GitHub.Hooks)
	require.Equal(t, []config.Service{
		{
			Name:                "payments",
			PagerDutyServiceIDs: []string{"PA1"},
			GitHubRepos:         []string{"acme/payments"},
			DeployEnvironments:  []string{"production"}, // default
			JiraProject:         "PAY",
			JiraIssueType:       "Task", // default
			PagerDutyRoutingKey: config.NewSecret("R0UT1NGKEY0PAYMENTS0000000000001"),
		},
		{
			Name:                "checkout",
			PagerDutyServiceIDs: []string{"PC1"},
			GitHubRepos:         []string{"acme/checkout"},
			DeployEnvironments:  []string{"staging", "production"},
			JiraProject:         "CHK",
			JiraIssueType:       "Bug",
			PagerDutyRoutingKey: config.NewSecret("R0UT1NGKEY0CHECKOUT0000000000002"),
		},
	}, cfg.Services)
}

func TestLoadFile(t *testing.T) {
	t.Parallel()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.LoadFile(filepath.Join("testdata", "conf.good.yaml"))
		require.NoError(t, err)
		require.Equal(t, ":9090", cfg.Listen)
	})

	t.Run("InvalidNamesTheFile", func(t *testing.T) {
		t.Parallel()

		path := filepath.Join("testdata", "conf.no-severities.yaml")
		_, err := config.LoadFile(path)
		require.EqualError(t, err, path+": 1 problem(s)\n  severities: define at least one severity, most severe first")
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()

		_, err := config.LoadFile(filepath.Join("testdata", "conf.does-not-exist.yaml"))
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
}

// TestParseProblems checks that each file in testdata, valid but for one
// problem, reports that problem at its key path.
func TestParseProblems(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		file string
		path string
		msg  string
	}{
		{
			file: "conf.unknown-top-level-key.yaml",
			path: "listne",
			msg:  "unknown key (known: api, awareness, correlation, drills, github, intake, jira, jobs, listen,",
		},
		{
			file: "conf.unknown-nested-key.yaml",
			path: "services[1].pagerduty_service_id",
			msg:  "unknown key (known: deploy_environments, deploy_workflows, github_repos, jira_fields, jira_issue_type, jira_project, name, pagerduty_routing_key, pagerduty_routing_key_file, pagerduty_service_ids, playbook)",
		},
		{
			file: "conf.duration-wrong-type.yaml",
			path: "correlation.merge_window",
			msg:  `want a duration such as 30m or 2h, got "soon"`,
		},
		{
			file: "conf.int-wrong-type.yaml",
			path: "intake.max_body_bytes",
			msg:  `got "lots"`,
		},
		{
			file: "conf.list-wrong-type.yaml",
			path: "services[0].github_repos",
			msg:  "want a list",
		},
		{
			file: "conf.duplicate-pagerduty-service-id.yaml",
			path: "services[1].pagerduty_service_ids[0]",
			msg:  `"PA1" is already listed by services[0]`,
		},
		{
			file: "conf.duplicate-service-name.yaml",
			path: "services[1].name",
			msg:  `"payments" is already services[0]`,
		},
		{
			file: "conf.reserved-service-name.yaml",
			path: "services[0].name",
			msg:  `"unmapped" is reserved`,
		},
		{
			file: "conf.bad-github-repo.yaml",
			path: "services[0].github_repos[0]",
			msg:  `want owner/name, got "acme"`,
		},
		{
			file: "conf.duplicate-github-repo.yaml",
			path: "services[1].github_repos[0]",
			msg:  `"Acme/Payments" is already listed by services[0]`,
		},
		{
			file: "conf.bad-severity-review.yaml",
			path: "severities[0].review",
			msg:  `want required, optional or none, got "mandatory"`,
		},
		{
			file: "conf.bad-severity-urgency.yaml",
			path: "severities[0].urgency",
			msg:  `want high or low, got "medium"`,
		},
		{
			file: "conf.duplicate-severity-name.yaml",
			path: "severities[1].name",
			msg:  `"SEV1" is already severities[0]`,
		},
		{
			file: "conf.duplicate-priority.yaml",
			path: "severities[1].pagerduty_priorities[0]",
			msg:  `"P1" is already mapped by severities[0]`,
		},
		{
			file: "conf.no-severities.yaml",
			path: "severities",
			msg:  "define at least one severity",
		},
		{
			file: "conf.empty-webhook-secret.yaml",
			path: "pagerduty.webhook_secrets[0]",
			msg:  "empty; remove the entry to switch this off",
		},
		{
			file: "conf.empty-api-token.yaml",
			path: "api.tokens[1]",
			msg:  "empty; remove the entry to switch this off",
		},
		{
			file: "conf.bad-storage-driver.yaml",
			path: "storage.driver",
			msg:  `want sqlite or postgres, got "bogus"`,
		},
		{
			file: "conf.bad-storage-synchronous.yaml",
			path: "storage.synchronous",
			msg:  `want full, normal or off, got "sometimes"`,
		},
		{
			file: "conf.bad-jira-project.yaml",
			path: "services[0].jira_project",
			msg:  `want a Jira project key such as PAY, got "pay"`,
		},
		{
			file: "conf.hook-repo-and-org.yaml",
			path: "github.hooks[0]",
			msg:  "set exactly one of repo and org",
		},
		{
			file: "conf.hook-without-id.yaml",
			path: "github.hooks[0].id",
			msg:  "want the hook's numeric id",
		},
		{
			file: "conf.bad-base-url.yaml",
			path: "jira.base_url",
			msg:  `want an http(s) URL, got "acme.atlassian.net"`,
		},
		{
			file: "conf.bad-playbook.yaml",
			path: "services[0].playbook",
			msg:  `want an http(s) URL, got "ftp://wiki.example.com/payments"`,
		},
		{
			file: "conf.negative-duration.yaml",
			path: "review.due_within",
			msg:  "want a positive duration",
		},
		{
			file: "conf.short-lease.yaml",
			path: "processing.lease",
			msg:  "want at least 3s",
		},
		{
			file: "conf.blank-role.yaml",
			path: "severities[0].roles_expected[1]",
			msg:  "want a role name such as commander or communications",
		},
		{
			file: "conf.negative-roles-grace.yaml",
			path: "severities[0].roles_grace",
			msg:  "want a duration of zero (the default, 15m0s) or more",
		},
		{
			file: "conf.bad-routing-key.yaml",
			path: "services[0].pagerduty_routing_key",
			msg:  "want the 32-character integration key of an Events API v2 integration",
		},
		{
			file: "conf.bad-events-url.yaml",
			path: "pagerduty.events_url",
			msg:  `want an http(s) URL, got "events.pagerduty.com"`,
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()

			_, err := parseFile(t, tc.file, nil)
			problem := requireOneProblem(t, err)
			require.Equal(t, tc.path, problem.Path)
			require.Contains(t, problem.Msg, tc.msg)
			require.ErrorContains(t, err, tc.file+": 1 problem(s)\n  "+tc.path+": ")
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		file  string
		paths []string
	}{
		{
			file: "conf.many-problems.yaml",
			paths: []string{
				"storage.driver",
				"pagerduty.webhook_secrets[0]",
				"severities[0].review",
				"services[0].github_repos[0]",
				"services[1].name",
			},
		},
		{
			file: "conf.many-shape-problems.yaml",
			paths: []string{
				"listne",
				"correlation.merge_window",
				"services[0].pagerduty_service_id",
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()

			_, err := parseFile(t, tc.file, nil)
			var paths []string
			for _, p := range requireProblems(t, err) {
				paths = append(paths, p.Path)
			}
			require.ElementsMatch(t, tc.paths, paths)
			require.ErrorContains(t, err, fmt.Sprintf("%s: %d problem(s)", tc.file, len(tc.paths)))
		})
	}
}

func TestParseSyntaxError(t *testing.T) {
	t.Parallel()

	_, err := config.Parse("broken.yaml", []byte("listen: [\n"), lookup(nil))
	problem := requireOneProblem(t, err)
	require.Empty(t, problem.Path)
	require.Contains(t, problem.Msg, "yaml: line")
	require.ErrorContains(t, err, "broken.yaml: 1 problem(s)")
}

func TestParseEnvExpansion(t *testing.T) {
	t.Parallel()

	// The secret goes into a block sequence: a plain ${NAME} is not valid
	// inside a flow sequence.
	const doc = `
listen: ":9090"
pagerduty:
  webhook_secrets:
    - %s
services:
  - name: payments
` + oneSeverity

	for _, tc := range []struct {
		name   string
		secret string // YAML source of pagerduty.webhook_secrets[0]
		env    map[string]string
		want   string
	}{
		{
			name:   "Literal",
			secret: `"literal"`,
			want:   "literal",
		},
		{
			name:   "DoubleQuoted",
			secret: `"${PD_SECRET}"`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "s3cret",
		},
		{
			name:   "SingleQuoted",
			secret: `'${PD_SECRET}'`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "s3cret",
		},
		{
			name:   "Plain",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "s3cret",
		},
		{
			name:   "InsideText",
			secret: `"pre-${PD_SECRET}-post"`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "pre-s3cret-post",
		},
		{
			name:   "TwoReferences",
			secret: `"${PD_A}:${PD_B}"`,
			env:    map[string]string{"PD_A": "a", "PD_B": "b"},
			want:   "a:b",
		},
		{
			name:   "ValueWithBlockSyntaxIsVerbatim",
			secret: `"${PD_SECRET}"`,
			env:    map[string]string{"PD_SECRET": "a: b\n- c"},
			want:   "a: b\n- c",
		},
		{
			name:   "ValueWithFlowSyntaxIsVerbatim",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": `"]}`},
			want:   `"]}`,
		},
		{
			name:   "ValueWithCommentAndDocumentMarkersIsVerbatim",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "x # y\n---\nlisten: evil"},
			want:   "x # y\n---\nlisten: evil",
		},
		{
			name:   "ValueLikeNullStaysAString",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "null"},
			want:   "null",
		},
		{
			name:   "ValueLikeNumberStaysAString",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "0123"},
			want:   "0123",
		},
		{
			name:   "ValueLikeBoolStaysAString",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "true"},
			want:   "true",
		},
		{
			name:   "ValueWithReferenceIsNotExpandedAgain",
			secret: `${PD_SECRET}`,
			env:    map[string]string{"PD_SECRET": "${OTHER}", "OTHER": "other"},
			want:   "${OTHER}",
		},
		{
			name:   "DollarWithoutBracesIsLeftAlone",
			secret: `"$PD_SECRET"`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "$PD_SECRET",
		},
		{
			name:   "UnterminatedReferenceIsLeftAlone",
			secret: `"${PD_SECRET"`,
			env:    map[string]string{"PD_SECRET": "s3cret"},
			want:   "${PD_SECRET",
		},
		{
			name:   "InvalidNameIsLeftAlone",
			secret: `"${1PD}"`,
			env:    map[string]string{"1PD": "s3cret"},
			want:   "${1PD}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			cfg, err := config.Parse("env.yaml", fmt.Appendf(nil, doc, tc.secret), lookup(tc.env))
			require.NoError(t, err)
			require.Equal(t, config.Secrets(tc.want), cfg.PagerDuty.WebhookSecrets)

			// The document keeps its structure.
			require.Equal(t, ":9090", cfg.Listen)
			require.Len(t, cfg.Services, 1)
			require.Len(t, cfg.Severities, 1)
		})
	}
}

func TestParseEnvExpansionInOtherValues(t *testing.T) {
	t.Parallel()

	cfg, err := config.Parse("env.yaml", []byte(`
listen: "${ADDR}"
storage:
  dsn: "file:${DATA_DIR}/hub.db"
correlation:
  merge_window: ${MERGE_WINDOW}
`+oneSeverity), lookup(map[string]string{
		"ADDR":         "127.0.0.1:9999",
		"DATA_DIR":     "/var/lib/hub",
		"MERGE_WINDOW": "45m",
	}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", cfg.Listen)
	require.Equal(t, "file:/var/lib/hub/hub.db", cfg.Storage.DSN)
	require.Equal(t, 45*time.Minute, cfg.Correlation.MergeWindow)
}

func TestParseUnsetEnv(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		doc  string
		env  map[string]string
		path string
		msg  string
	}{
		{
			// A partly unset secret would leave a guessable remainder.
			name: "PartlyUnsetSecret",
			doc:  `pagerduty: {webhook_secrets: ["pre-${PD_SECRET}"]}`,
			path: "pagerduty.webhook_secrets[0]",
			msg:  "environment variable PD_SECRET is not set",
		},
		{
			name: "PagerDutyWebhookSecret",
			doc:  `pagerduty: {webhook_secrets: ["${PD_SECRET}"]}`,
			path: "pagerduty.webhook_secrets[0]",
			msg:  "environment variable PD_SECRET is not set",
		},
		{
			name: "SecondPagerDutyWebhookSecret",
			doc:  `pagerduty: {webhook_secrets: ["${PD_NEW}", "${PD_OLD}"]}`,
			env:  map[string]string{"PD_NEW": "new"},
			path: "pagerduty.webhook_secrets[1]",
			msg:  "environment variable PD_OLD is not set",
		},
		{
			name: "APIToken",
			doc:  `api: {tokens: ["${API_TOKEN}"]}`,
			path: "api.tokens[0]",
			msg:  "environment variable API_TOKEN is not set",
		},
		{
			name: "GitHubWebhookSecret",
			doc:  `github: {webhook_secrets: ["${GH_SECRET}"]}`,
			path: "github.webhook_secrets[0]",
			msg:  "environment variable GH_SECRET is not set",
		},
		{
			name: "JiraWebhookSecret",
			doc:  `jira: {webhook_secrets: ["${JIRA_SECRET}"]}`,
			path: "jira.webhook_secrets[0]",
			msg:  "environment variable JIRA_SECRET is not set",
		},
		{
			name: "SetButEmpty",
			doc:  `pagerduty: {webhook_secrets: ["${PD_SECRET}"]}`,
			env:  map[string]string{"PD_SECRET": ""},
			path: "pagerduty.webhook_secrets[0]",
			msg:  "empty; remove the entry to switch this off",
		},
		{
			name: "SetToWhitespace",
			doc:  `pagerduty: {webhook_secrets: ["${PD_SECRET}"]}`,
			env:  map[string]string{"PD_SECRET": " \t"},
			path: "pagerduty.webhook_secrets[0]",
			msg:  "empty; remove the entry to switch this off",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := config.Parse("env.yaml", []byte(tc.doc+oneSeverity), lookup(tc.env))
			require.Equal(t, config.Problem{Path: tc.path, Msg: tc.msg}, requireOneProblem(t, err))
		})
	}
}

// TestParseForStore: a command that only opens the store needs storage,
// not every secret in the environment.
func TestParseForStore(t *testing.T) {
	t.Parallel()

	t.Run("ExampleWithoutEnvironment", func(t *testing.T) {
		t.Parallel()

		data, err := os.ReadFile("incidenthub.example.yaml")
		require.NoError(t, err)
		cfg, err := config.ParseForStore("incidenthub.example.yaml", data, lookup(nil))
		require.NoError(t, err)
		require.Equal(t, config.Storage{Driver: config.DriverSQLite, DSN: "file:data/incidenthub.db", Synchronous: "full"}, cfg.Storage)
		// What named an unset variable is empty, and an empty secret
		// verifies nothing.
		require.Equal(t, config.Secrets(""), cfg.PagerDuty.WebhookSecrets)
		require.Equal(t, config.Secrets(""), cfg.GitHub.WebhookSecrets)
		require.Equal(t, config.Secrets(""), cfg.Jira.WebhookSecrets)
		require.Equal(t, config.Secrets(""), cfg.API.Tokens)
		require.Len(t, cfg.Services, 2)

		// Parse still wants them all (TestParseExample lists them).
		_, err = config.Parse("incidenthub.example.yaml", data, lookup(nil))
		require.Len(t, requireProblems(t, err), 4)
	})

	t.Run("UnsetOutsideStorage", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.ParseForStore("env.yaml", []byte(`
listen: "${ADDR}"
storage: {dsn: "file:${DATA_DIR}/hub.db"}
pagerduty: {webhook_secrets: ["pre-${PD_SECRET}", "${PD_OLD}"], api_token: "${PD_TOKEN}"}
correlation: {merge_window: "${MERGE_WINDOW}"}
`+oneSeverity), lookup(map[string]string{"DATA_DIR": "/var/lib/hub", "PD_OLD": "old"}))
		require.NoError(t, err)
		require.Equal(t, "file:/var/lib/hub/hub.db", cfg.Storage.DSN)
		require.Empty(t, cfg.Listen)
		// Empty, never the guessable remainder "pre-".
		require.Equal(t, config.Secrets("", "old"), cfg.PagerDuty.WebhookSecrets)
		require.Empty(t, cfg.PagerDuty.APIToken.Value())
		require.True(t, cfg.Unknown("pagerduty.api_token"), "empty here, perhaps not in the hub's environment")
		require.False(t, cfg.Unknown("pagerduty.drill_routing_key"), "not set anywhere")
		require.False(t, cfg.Unknown("storage.dsn"))
		require.Equal(t, 30*time.Minute, cfg.Correlation.MergeWindow, "the default stays")
	})

	for _, tc := range []struct {
		name string
		doc  string
		env  map[string]string
		want config.Problem
	}{
		{
			name: "UnsetStorageDriver",
			doc:  `storage: {driver: "${DRIVER}"}`,
			want: config.Problem{Path: "storage.driver", Msg: `want sqlite or postgres, got ""`},
		},
		{
			name: "UnsetPostgresDSN",
			doc:  `storage: {driver: postgres, dsn: "${DATABASE_URL}"}`,
			want: config.Problem{Path: "storage.dsn", Msg: "empty; want postgres://user:password@host/db"},
		},
		{
			// Only unset variables are tolerated, not a secret written empty.
			name: "EmptySecret",
			doc:  `jira: {webhook_secrets: [""]}`,
			want: config.Problem{Path: "jira.webhook_secrets[0]", Msg: "empty; remove the entry to switch this off"},
		},
		{
			name: "SetButEmpty",
			doc:  `jira: {webhook_secrets: ["${JIRA_SECRET}"]}`,
			env:  map[string]string{"JIRA_SECRET": ""},
			want: config.Problem{Path: "jira.webhook_secrets[0]", Msg: "empty; remove the entry to switch this off"},
		},
		{
			name: "UnknownKey",
			doc:  "jira: {webhook_secret: [\"${JIRA_SECRET}\"]}",
			want: config.Problem{Path: "jira.webhook_secret", Msg: "unknown key (known: api_token, api_token_file, base_url, email, flavor, search_lag, webhook_secrets, webhook_secrets_file)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := config.ParseForStore("env.yaml", []byte(tc.doc+oneSeverity), lookup(tc.env))
			require.Equal(t, tc.want, requireOneProblem(t, err))
		})
	}

	t.Run("LoadFileForStore", func(t *testing.T) {
		t.Parallel()

		path := filepath.Join(t.TempDir(), "hub.yaml")
		doc := "storage: {dsn: \"file:hub.db\"}\njira: {webhook_secrets: [\"${INCIDENTHUB_TEST_NEVER_SET_7D3A}\"]}\n" + oneSeverity
		require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
		cfg, err := config.LoadFileForStore(path)
		require.NoError(t, err)
		require.Equal(t, "file:hub.db", cfg.Storage.DSN)
		_, err = config.LoadFile(path)
		require.Equal(t, config.Problem{Path: "jira.webhook_secrets[0]", Msg: "environment variable INCIDENTHUB_TEST_NEVER_SET_7D3A is not set"}, requireOneProblem(t, err))
		_, err = config.LoadFileForStore(filepath.Join("testdata", "conf.does-not-exist.yaml"))
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()

	// Every secret in conf.good.yaml.
	secrets := []string{
		"api-token-one", "api-token-two",
		"pd-secret-one", "pd-secret-two", "pd-api-token",
		"gh-webhook-secret", "gh-token",
		"jira-webhook-secret", "jira-api-token",
		"R0UT1NGKEY0PAYMENTS0000000000001", "R0UT1NGKEY0CHECKOUT0000000000002", "R0UT1NGKEY0DR1LLS000000000000003",
	}
	const (
		inConfig    = 12 // secrets in the whole file
		inPagerDuty = 4  // secrets in its pagerduty section
	)

	cfg, err := parseFile(t, "conf.good.yaml", nil)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		render func(t *testing.T, cfg *config.Config) string
		want   int // occurrences of <secret>
	}{
		{
			name: "Fmt",
			render: func(t *testing.T, cfg *config.Config) string {
				return fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
			},
			want: 3 * inConfig,
		},
		{
			name: "FmtValue",
			render: func(t *testing.T, cfg *config.Config) string {
				return fmt.Sprintf("%v %+v %#v", *cfg, *cfg, *cfg)
			},
			want: 3 * inConfig,
		},
		{
			// go vet rejects %s for a section with numbers or booleans.
			name: "FmtSection",
			render: func(t *testing.T, cfg *config.Config) string {
				pd := cfg.PagerDuty
				return fmt.Sprintf("%v %+v %#v", pd, pd, pd)
			},
			want: 3 * inPagerDuty,
		},
		{
			name: "YAML",
			render: func(t *testing.T, cfg *config.Config) string {
				out, err := yaml.Marshal(cfg)
				require.NoError(t, err)
				return string(out)
			},
			want: inConfig,
		},
		{
			name: "JSON",
			render: func(t *testing.T, cfg *config.Config) string {
				out, err := json.Marshal(cfg)
				require.NoError(t, err)
				// json.Marshal escapes < and > for HTML.
				return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(out))
			},
			want: inConfig,
		},
		{
			name: "SlogJSONSection",
			render: func(t *testing.T, cfg *config.Config) string {
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", slog.Any("cfg", cfg.PagerDuty))
				return buf.String()
			},
			want: inPagerDuty,
		},
		{
			name: "SlogJSONConfig",
			render: func(t *testing.T, cfg *config.Config) string {
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", slog.Any("cfg", cfg))
				return buf.String()
			},
			want: inConfig,
		},
		{
			name: "SlogTextSection",
			render: func(t *testing.T, cfg *config.Config) string {
				var buf bytes.Buffer
				slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", slog.Any("cfg", cfg.PagerDuty))
				return buf.String()
			},
			want: inPagerDuty,
		},
		{
			name: "SlogSingleSecret",
			render: func(t *testing.T, cfg *config.Config) string {
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "token", cfg.PagerDuty.APIToken)
				return buf.String()
			},
			want: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			out := tc.render(t, cfg)
			for _, secret := range secrets {
				require.NotContains(t, out, secret)
			}
			require.Equal(t, tc.want, strings.Count(out, "<secret>"), out)
		})
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()

	secret := config.NewSecret("hunter2")
	require.Equal(t, "hunter2", secret.Value())

	for _, tc := range []struct {
		format string
		want   string
	}{
		{format: "%v", want: "<secret>"},
		{format: "%+v", want: "<secret>"},
		{format: "%#v", want: "<secret>"},
		{format: "%s", want: "<secret>"},
		{format: "%q", want: "<secret>"},
		{format: "%x", want: "<secret>"},
		{format: "%d", want: "<secret>"},
		{format: "%t", want: "<secret>"},
		{format: "%10.3s", want: "<secret>"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tc.want, fmt.Sprintf(tc.format, secret))
		})
	}
}

// TestParseEmpty checks that a document without content means Default(),
// which is invalid only because severities have no default.
func TestParseEmpty(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		doc  string
	}{
		{name: "Empty", doc: ""},
		{name: "Blank", doc: "\n\n"},
		{name: "CommentOnly", doc: "# nothing yet\n"},
		{name: "DocumentMarker", doc: "---\n"},
		{name: "Null", doc: "null\n"},
		{name: "EmptyMapping", doc: "{}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := config.Parse("empty.yaml", []byte(tc.doc), lookup(nil))
			require.Equal(t, config.Problem{
				Path: "severities",
				Msg:  "define at least one severity, most severe first",
			}, requireOneProblem(t, err))
		})
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()

	t.Run("OnlySeverities", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.Parse("defaults.yaml", []byte(oneSeverity), lookup(nil))
		require.NoError(t, err)

		want := config.Default()
		want.Storage.DSN = "file:data/incidenthub.db" // SQLite's default location
		want.Severities = []config.Severity{{Name: "SEV1", Review: config.ReviewRequired}}
		require.Equal(t, &want, cfg)
	})

	t.Run("NullSectionsKeepDefaults", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.Parse("defaults.yaml", []byte("storage:\ncorrelation:\nawareness:\n"+oneSeverity), lookup(nil))
		require.NoError(t, err)

		want := config.Default()
		want.Storage.DSN = "file:data/incidenthub.db" // SQLite's default location
		require.Equal(t, want.Storage, cfg.Storage)
		require.Equal(t, want.Correlation, cfg.Correlation)
		require.Equal(t, want.Awareness, cfg.Awareness)
	})

	t.Run("PartialSectionKeepsOtherDefaults", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.Parse("defaults.yaml", []byte(`
storage:
  synchronous: normal
correlation:
  merge_window: 45m
`+oneSeverity), lookup(nil))
		require.NoError(t, err)
		require.Equal(t, config.Storage{
			Driver:      config.DriverSQLite,
			DSN:         "file:data/incidenthub.db",
			Synchronous: "normal",
		}, cfg.Storage)
		require.Equal(t, config.Correlation{MergeWindow: 45 * time.Minute, ChangeLookback: 2 * time.Hour}, cfg.Correlation)
	})

	t.Run("ListReplacesDefault", func(t *testing.T) {
		t.Parallel()

		cfg, err := config.Parse("defaults.yaml", []byte("awareness: {labels: [db-migration]}\n"+oneSeverity), lookup(nil))
		require.NoError(t, err)
		require.Equal(t, []string{"db-migration"}, cfg.Awareness.Labels)
	})
}

func TestParseDurations(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name  string
		value string // YAML source of correlation.merge_window
		want  time.Duration
	}{
		{name: "Minutes", value: "45m", want: 45 * time.Minute},
		{name: "Hours", value: "2h", want: 2 * time.Hour},
		{name: "Seconds", value: "90s", want: 90 * time.Second},
		{name: "Compound", value: "1h30m", want: 90 * time.Minute},
		{name: "Fractional", value: "1.5h", want: 90 * time.Minute},
		{name: "Quoted", value: `"45m"`, want: 45 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			doc := "correlation:\n  merge_window: " + tc.value + "\n" + oneSeverity
			cfg, err := config.Parse("durations.yaml", []byte(doc), lookup(nil))
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Correlation.MergeWindow)
		})
	}
}

func TestParseBadDurations(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name  string
		value string // YAML source of correlation.merge_window
		msg   string
	}{
		{name: "Word", value: "soon", msg: `want a duration such as 30m or 2h, got "soon"`},
		{name: "NoUnit", value: "45", msg: `want a duration such as 30m or 2h, got "45"`},
		{name: "Spelled", value: "2 hours", msg: `want a duration such as 30m or 2h, got "2 hours"`},
		{name: "List", value: "[45m]", msg: "want a duration such as 30m or 2h"},
		{name: "Zero", value: "0s", msg: "want a positive duration"},
		{name: "Negative", value: "-45m", msg: "want a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			doc := "correlation:\n  merge_window: " + tc.value + "\n" + oneSeverity
			_, err := config.Parse("durations.yaml", []byte(doc), lookup(nil))
			problem := requireOneProblem(t, err)
			require.Equal(t, "correlation.merge_window", problem.Path)
			require.Contains(t, problem.Msg, tc.msg)
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		err  *config.Error
		want string
	}{
		{
			name: "WithPaths",
			err: &config.Error{File: "hub.yaml", Problems: []config.Problem{
				{Path: "listen", Msg: "empty"},
				{Path: "services[0].name", Msg: "empty"},
			}},
			want: "hub.yaml: 2 problem(s)\n  listen: empty\n  services[0].name: empty",
		},
		{
			name: "WithoutPath",
			err:  &config.Error{File: "hub.yaml", Problems: []config.Problem{{Msg: "yaml: line 1: oops"}}},
			want: "hub.yaml: 1 problem(s)\n  yaml: line 1: oops",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			require.EqualError(t, tc.err, tc.want)
		})
	}
}

func TestModule(t *testing.T) {
	t.Parallel()

	cfg, err := parseFile(t, "conf.good.yaml", nil)
	require.NoError(t, err)

	var got struct {
		fx.In

		Listen      string `name:"listen"`
		Storage     config.Storage
		Intake      config.Intake
		API         config.API
		PagerDuty   config.PagerDuty
		GitHub      config.GitHub
		Jira        config.Jira
		Correlation config.Correlation
	}
	app := fx.New(fx.NopLogger, fx.Supply(cfg), config.Module, fx.Populate(&got))
	require.NoError(t, app.Err())

	require.Equal(t, cfg.Listen, got.Listen)
	require.Equal(t, cfg.Storage, got.Storage)
	require.Equal(t, cfg.Intake, got.Intake)
	require.Equal(t, cfg.API, got.API)
	require.Equal(t, cfg.PagerDuty, got.PagerDuty)
	require.Equal(t, cfg.GitHub, got.GitHub)
	require.Equal(t, cfg.Jira, got.Jira)
	require.Equal(t, cfg.Correlation, got.Correlation)
}

// PostgreSQL has no default location: the DSN must be given, and the
// SQLite default must not stand in for it.
func TestParsePostgresNeedsDSN(t *testing.T) {
	t.Parallel()

	_, err := config.Parse("pg.yaml", []byte("storage: {driver: postgres}\n"+oneSeverity), lookup(nil))
	require.Equal(t, "storage.dsn", requireOneProblem(t, err).Path)
}

// Deliveries are kept at least as long as GitHub may be asked to redeliver
// them; zero keeps them forever.
func TestParseRetention(t *testing.T) {
	t.Parallel()
	_, err := config.Parse("r.yaml", []byte("retention: {deliveries: 24h}\n"+oneSeverity), lookup(nil))
	require.Equal(t, "retention.deliveries", requireOneProblem(t, err).Path)
	for doc, want := range map[string]time.Duration{"retention: {deliveries: 0s}\n": 0, "retention: {deliveries: 2160h}\n": 90 * 24 * time.Hour} {
		cfg, err := config.Parse("r.yaml", []byte(doc+oneSeverity), lookup(nil))
		require.NoError(t, err)
		require.Equal(t, want, cfg.Retention.Deliveries)
	}
}

// Triage notes are on unless switched off.
func TestParseTriageNotes(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("n.yaml", []byte("pagerduty: {notes: {triage: false}}\n"+oneSeverity), lookup(nil))
	require.NoError(t, err)
	require.False(t, cfg.PagerDuty.Notes.Triage)
	_, err = config.Parse("n.yaml", []byte("pagerduty: {notes: {triage: maybe}}\n"+oneSeverity), lookup(nil))
	require.Equal(t, "pagerduty.notes.triage", requireOneProblem(t, err).Path)
}

// The bytes in flight must hold at least one body, or no delivery at the
// limit could ever be read.
func TestParseBytesInFlightHoldOneBody(t *testing.T) {
	t.Parallel()

	_, err := config.Parse("intake.yaml", []byte("intake: {max_body_bytes: 1000, max_bytes_in_flight: 999}\n"+oneSeverity), lookup(nil))
	require.Equal(t, config.Problem{Path: "intake.max_bytes_in_flight", Msg: "want at least intake.max_body_bytes (1000), got 999"}, requireOneProblem(t, err))

	cfg, err := config.Parse("intake.yaml", []byte("intake: {max_body_bytes: 1000}\n"+oneSeverity), lookup(nil))
	require.NoError(t, err)
	require.Equal(t, config.Intake{MaxBodyBytes: 1000, MaxBytesInFlight: 32 << 20}, cfg.Intake)
	require.EqualValues(t, 512, cfg.Intake.BodyLimit(512))
	require.EqualValues(t, 1000, cfg.Intake.BodyLimit(2000))
}

// Shape problems (an unknown key, a wrong type) and semantic ones (an
// empty secret) are reported in the same run.
func TestParseReportsShapeAndSemanticProblemsTogether(t *testing.T) {
	t.Parallel()

	doc := "listn: \":8080\"\ncorrelation: {merge_window: soon}\npagerduty: {webhook_secrets: [\"\"]}\n" + oneSeverity
	_, err := config.Parse("both.yaml", []byte(doc), lookup(nil))
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	var paths []string
	for _, p := range cerr.Problems {
		paths = append(paths, p.Path)
	}
	require.ElementsMatch(t, []string{"listn", "correlation.merge_window", "pagerduty.webhook_secrets[0]"}, paths)
}

func TestPeople(t *testing.T) {
	t.Parallel()

	_, err := config.Parse("people.yaml", []byte("people: [{github: \"not a login\"}]\n"+oneSeverity), lookup(nil))
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	require.Len(t, cerr.Problems, 2)
	require.Equal(t, "people[0]", cerr.Problems[0].Path)
	require.Equal(t, "people[0].github", cerr.Problems[1].Path)

	cfg, err := config.Parse("people.yaml", []byte("people: [{name: Ana Ortiz, pagerduty_email: ana@example.com, github: ana-o}]\n"+oneSeverity), lookup(nil))
	require.NoError(t, err)
	require.Equal(t, "ana-o", cfg.People.GitHubLogin("Ana Ortiz"))
	require.Equal(t, "ana-o", cfg.People.GitHubLogin("ANA@example.com"))
	require.Empty(t, cfg.People.GitHubLogin(""))
	require.Empty(t, cfg.People.GitHubLogin("Bea"))
}

// Passwords in URLs and DSNs never reach what the hub prints.
func TestRedacted(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://hub:s3cret@db:5432/hub?sslmode=require": "postgres://hub:xxxxx@db:5432/hub?sslmode=require",
		"https://ghp_token@github.example/api":              "https://xxxxx@github.example/api",
		"host=db user=hub password=s3cret dbname=hub":       "host=db user=hub password=xxxxx dbname=hub",
		"host=db password='s3 cret' dbname=hub":             "host=db password=xxxxx dbname=hub",
		"file:data/incidenthub.db":                          "file:data/incidenthub.db",
		"https://acme.atlassian.net":                        "https://acme.atlassian.net",
	} {
		require.Equal(t, want, config.Redacted(in), in)
	}
	_, err := config.Parse("u.yaml", []byte("jira: {base_url: \"ftp://bot:s3cret@jira.example\"}\n"+oneSeverity), lookup(nil))
	require.NotContains(t, err.Error(), "s3cret")
}

// jira_fields are values by Jira field id, of any shape Jira takes; the
// fields the hub sets itself, and ids that cannot be Jira's, are refused
// at their key.
func TestParseJiraFields(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("fields.yaml", []byte(`
services:
  - name: payments
    jira_project: PAY
    jira_fields:
      components: [{name: Backend}]
      customfield_10042: {value: Payments}
      customfield_10050: 3
`+oneSeverity), lookup(nil))
	require.NoError(t, err)
	body, err := json.Marshal(cfg.Services[0].JiraFields)
	require.NoError(t, err)
	require.JSONEq(t, `{"components":[{"name":"Backend"}],"customfield_10042":{"value":"Payments"},"customfield_10050":3}`, string(body))

	_, err = config.Parse("fields.yaml", []byte(`
services:
  - name: payments
    jira_fields: {summary: x, "custom field": 1, customfield_1: null}
`+oneSeverity), lookup(nil))
	problems := map[string]string{}
	for _, p := range requireProblems(t, err) {
		problems[p.Path] = p.Msg
	}
	require.Equal(t, map[string]string{
		"services[0].jira_fields.summary":       "the hub sets summary itself",
		"services[0].jira_fields.custom field":  "want a Jira field id such as components or customfield_10042",
		"services[0].jira_fields.customfield_1": "want a value",
	}, problems)

	_, err = config.Parse("fields.yaml", []byte("services: [{name: payments, jira_fields: [a]}]\n"+oneSeverity), lookup(nil))
	require.Equal(t, "services[0].jira_fields", requireProblems(t, err)[0].Path)
}

// Secrets may come from files, relative to the configuration file; a file
// read again after it changed gives every copy of the secret its new
// value, and one that cannot be read keeps the old.
func TestSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, value string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600))
	}
	write("pd-old", "old-secret\n")
	write("pd-new", "new-secret\n")
	write("jira", "jira-token")
	cfg, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`
pagerduty: {webhook_secrets: [inline-secret, {file: pd-old}], webhook_secrets_file: pd-new}
jira: {base_url: "https://acme.atlassian.net", email: bot@example.com, api_token_file: jira}
`+oneSeverity), lookup(nil))
	require.NoError(t, err)
	var values []string
	for _, s := range cfg.PagerDuty.WebhookSecrets {
		values = append(values, s.Value())
	}
	require.Equal(t, []string{"inline-secret", "old-secret", "new-secret"}, values, "a trailing line break is not part of a secret")
	require.Equal(t, "jira-token", cfg.Jira.APIToken.Value())
	require.ElementsMatch(t, []string{filepath.Join(dir, "pd-old"), filepath.Join(dir, "pd-new"), filepath.Join(dir, "jira")}, cfg.SecretFiles())

	copied := cfg.Jira // as fx hands sections out
	write("jira", "rotated-token\n")
	write("pd-old", "") // half-written: kept as it was
	changed, err := cfg.ReloadSecrets()
	require.ErrorContains(t, err, "pd-old is empty")
	require.Equal(t, []string{filepath.Join(dir, "jira")}, changed)
	require.Equal(t, "rotated-token", copied.APIToken.Value(), "every copy sees the rotation")
	require.Equal(t, "old-secret", cfg.PagerDuty.WebhookSecrets[1].Value())

	_, err = config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`
jira: {api_token: x, api_token_file: jira}
github: {token_file: missing}
`+oneSeverity), lookup(nil))
	problems := map[string]string{}
	for _, p := range requireProblems(t, err) {
		problems[p.Path] = p.Msg
	}
	require.Equal(t, "set api_token or api_token_file, not both", problems["jira.api_token_file"])
	require.Contains(t, problems["github.token"], "missing: no such file")
}

// A command that only opens the store runs where secret files may not be
// mounted; the hub itself refuses a missing one, and an unset variable in
// a file's path is reported as such.
func TestSecretFilesForStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doc := []byte(`
jira: {base_url: "https://acme.atlassian.net", email: bot@example.com, api_token_file: missing}
github: {token_file: "${GITHUB_TOKEN_FILE}"}
` + oneSeverity)
	cfg, err := config.ParseForStore(filepath.Join(dir, "hub.yaml"), doc, lookup(nil))
	require.NoError(t, err)
	require.Equal(t, "", cfg.Jira.APIToken.Value())
	require.True(t, cfg.Unknown("jira.api_token"))
	require.True(t, cfg.Unknown("github.token"))

	_, err = config.Parse(filepath.Join(dir, "hub.yaml"), doc, lookup(nil))
	problems := map[string]string{}
	for _, p := range requireProblems(t, err) {
		problems[p.Path] = p.Msg
	}
	require.Contains(t, problems["jira.api_token"], "missing: no such file")
	require.Equal(t, "environment variable GITHUB_TOKEN_FILE is not set (it names the secret's file)", problems["github.token"])
}
