// Package config loads and validates incidenthub's YAML configuration.
//
// Loading is strict: unknown keys are errors, ${ENV} references are expanded
// inside values, and every problem is reported at once with its key path
// (services[1].pagerduty_service_ids[0]: …) so that one run of
// `incidenthub config check` shows everything to fix.
//
// Commands that only open the store load with LoadFileForStore instead:
// the same checks, except that a variable named outside storage may be
// unset, so that reading records needs no webhook secret.
package config

import (
	"fmt"
	"strings"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Listen      string      `yaml:"listen"`
	Storage     Storage     `yaml:"storage"`
	Intake      Intake      `yaml:"intake"`
	API         API         `yaml:"api"`
	PagerDuty   PagerDuty   `yaml:"pagerduty"`
	GitHub      GitHub      `yaml:"github"`
	Jira        Jira        `yaml:"jira"`
	Severities  []Severity  `yaml:"severities"`
	Services    []Service   `yaml:"services"`
	Correlation Correlation `yaml:"correlation"`
	Review      Review      `yaml:"review"`
	Awareness   Awareness   `yaml:"awareness"`
	People      People      `yaml:"people"`
	Jobs        Jobs        `yaml:"jobs"`
	Processing  Processing  `yaml:"processing"`
	Retention   Retention   `yaml:"retention"`
	Drills      Drills      `yaml:"drills"`

	// unknown holds the key paths whose values this process could not
	// read (ParseForStore): an unset variable, an unmounted secret file.
	unknown map[string]bool
}

// Unknown reports whether the value at path (pagerduty.drill_routing_key)
// was left empty because this process could not read it, though the hub
// may: a configuration loaded for a command that only opens the store
// names a variable this shell does not have, or a file it cannot read.
func (c *Config) Unknown(path string) bool { return c.unknown[path] }

// Drills configures training incidents.
type Drills struct {
	// JiraProject is where drills' follow-ups are filed; empty keeps them
	// out of Jira, so that a drill never touches a team's project.
	JiraProject string `yaml:"jira_project"`
}

// Retention bounds how long the hub keeps what it no longer needs.
type Retention struct {
	// Deliveries is how long processed (and ignored) raw deliveries are
	// kept for `deliveries replay`; zero keeps them forever. Unprocessable
	// and failed ones are kept until replayed or `deliveries purge`d;
	// records, timelines and changes are never pruned.
	Deliveries time.Duration `yaml:"deliveries"`
}

// MinDeliveryRetention is GitHub's redelivery window: a delivery the
// sweeper may still ask GitHub for must still be stored.
const MinDeliveryRetention = 72 * time.Hour

// Processing tunes how replicas share the processing of deliveries.
type Processing struct {
	// Lease is how long a replica that vanished (killed, its machine or
	// network gone) may keep the processing of deliveries before another
	// takes over. Only PostgreSQL has several replicas to hand over to.
	Lease time.Duration `yaml:"lease"`
}

// Jobs tunes the durable job queue that writes to vendors.
type Jobs struct {
	// Timeout bounds one run of a job.
	Timeout time.Duration `yaml:"timeout"`
	// RescueAfter: a job still running this long (its process died) runs
	// again. At least Timeout.
	RescueAfter time.Duration `yaml:"rescue_after"`
}

// Person maps someone who responds in PagerDuty to their GitHub login, so
// that the review doc can be assigned to the incident commander.
type Person struct {
	// Name is as PagerDuty shows it (the user's summary in webhooks).
	Name           string `yaml:"name"`
	PagerDutyEmail string `yaml:"pagerduty_email"`
	GitHub         string `yaml:"github"`
	// JiraAccountID is the person's Jira Cloud account, so that a
	// follow-up with owner:@login is assigned to them.
	JiraAccountID string `yaml:"jira_account_id"`
	// JiraUsername is the same on Jira Data Center, which names users
	// by username.
	JiraUsername string `yaml:"jira_username"`
}

// People are the people the hub maps between vendors.
type People []Person

// JiraUser returns how the Jira flavour names the person with the GitHub
// login (a Cloud account id, a Data Center username), or "".
func (ps People) JiraUser(githubLogin, flavor string) string {
	for _, p := range ps {
		if githubLogin != "" && strings.EqualFold(p.GitHub, githubLogin) {
			if flavor == JiraDataCenter {
				return p.JiraUsername
			}
			return p.JiraAccountID
		}
	}
	return ""
}

// GitHubLogin returns the login of the person with the PagerDuty name or
// email, or "".
func (ps People) GitHubLogin(nameOrEmail string) string {
	for _, p := range ps {
		if nameOrEmail != "" && (p.Name == nameOrEmail || strings.EqualFold(p.PagerDutyEmail, nameOrEmail)) {
			return p.GitHub
		}
	}
	return ""
}

// Storage selects the database.
type Storage struct {
	// Driver is sqlite (embedded, the default) or postgres.
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
	// Synchronous is SQLite's synchronous pragma: full (the default) makes
	// an acknowledged delivery survive power loss; normal survives a crash
	// of the process but may lose the last commits on power loss.
	Synchronous string `yaml:"synchronous"`
}

// Intake bounds what webhook endpoints accept.
type Intake struct {
	// MaxBodyBytes caps one delivery; each source lowers it further to
	// the largest delivery its vendor sends.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxBytesInFlight caps the bodies held in memory at once across all
	// endpoints; a request that finds no room within a moment gets 503
	// with Retry-After (PagerDuty and Jira retry it; GitHub's failed
	// deliveries come back through the sweeper).
	MaxBytesInFlight int64 `yaml:"max_bytes_in_flight"`
}

// BodyLimit is the largest body accepted from a vendor that sends at
// most vendorMax bytes.
func (i Intake) BodyLimit(vendorMax int64) int64 { return min(i.MaxBodyBytes, vendorMax) }

// API configures the read API.
type API struct {
	// Tokens are the accepted bearer tokens; with none the API is off.
	Tokens []Secret `yaml:"tokens"`
}

// PagerDuty configures the PagerDuty connector.
type PagerDuty struct {
	// WebhookSecrets are the v3 subscription secrets; several allow rotation.
	// With none, the webhook endpoint is switched off.
	WebhookSecrets []Secret `yaml:"webhook_secrets"`
	APIToken       Secret   `yaml:"api_token"`
	FromEmail      string   `yaml:"from_email"`
	BaseURL        string   `yaml:"base_url"`
	// EventsURL is the Events API v2 the services' change events go to
	// (DefaultEventsURL when empty; https://events.eu.pagerduty.com for an
	// EU account).
	EventsURL string `yaml:"events_url"`
	Notes     Notes  `yaml:"notes"`
	// DrillRoutingKey is the Events API v2 integration key drills page
	// through (`incidenthub drill` without --dry): the key of a service
	// whose escalation policy reaches the people in training.
	DrillRoutingKey Secret `yaml:"drill_routing_key,omitempty"`
}

// DefaultEventsURL is PagerDuty's Events API v2.
const DefaultEventsURL = "https://events.pagerduty.com"

// DefaultRolesGrace is how long a severity's expected roles may stay open
// after the record is acknowledged before the pages are told.
const DefaultRolesGrace = 15 * time.Minute

// DefaultJiraIssueType is what follow-ups are filed as unless a service
// says otherwise, and what drills' follow-ups are filed as: a type every
// Jira project template has.
const DefaultJiraIssueType = "Task"

// Notes chooses the notes the hub adds to pages while they are open.
type Notes struct {
	// Triage adds to every page, once, the service's changes before it,
	// an announced risky change, the playbook and the record.
	Triage bool `yaml:"triage"`
	// LiveChanges adds to an open incident's pages one note for each
	// change that lands on the service meanwhile.
	LiveChanges bool `yaml:"live_changes"`
}

// GitHub configures the GitHub connector.
type GitHub struct {
	WebhookSecrets []Secret `yaml:"webhook_secrets"`
	// Token or App is the identity the hub writes to GitHub with: a
	// person's or a machine user's token, or a GitHub App installation.
	Token            Secret     `yaml:"token"`
	App              *GitHubApp `yaml:"app,omitempty"`
	BaseURL          string     `yaml:"base_url"`
	ReviewRepo       string     `yaml:"review_repo"`
	Hooks            []Hook     `yaml:"hooks"`
	CommentOnChanges bool       `yaml:"comment_on_changes"`
}

// GitHubApp is a GitHub App installed where the hub writes: its
// installation tokens are minted from the App's private key, and
// refreshed before they expire.
type GitHubApp struct {
	ID             int64 `yaml:"id"`
	InstallationID int64 `yaml:"installation_id"`
	// PrivateKeyFile is the App's private key (PEM), relative to the
	// configuration file.
	PrivateKeyFile string `yaml:"private_key_file"`
}

// Identity names how the hub writes to GitHub ("" when it cannot).
func (g GitHub) Identity() string {
	switch {
	case g.App != nil:
		return fmt.Sprintf("GitHub App %d (installation %d)", g.App.ID, g.App.InstallationID)
	case g.Token.Value() != "":
		return "github.token"
	}
	return ""
}

// Hook names a GitHub webhook whose failed deliveries the hub recovers:
// a repository hook (Repo) or an organisation hook (Org).
type Hook struct {
	Repo string `yaml:"repo"`
	Org  string `yaml:"org"`
	ID   int64  `yaml:"id"`
	// App is the GitHub App's own webhook (github.app), which the hub
	// sweeps without its being listed.
	App bool `yaml:"-"`
}

// Jira flavours: Atlassian's cloud, or a site of one's own (Jira Data
// Center or Server).
const (
	JiraCloud      = "cloud"
	JiraDataCenter = "datacenter"
)

// Jira configures the Jira connector.
type Jira struct {
	WebhookSecrets []Secret `yaml:"webhook_secrets"`
	// Flavor is cloud (the default) or datacenter.
	Flavor  string `yaml:"flavor"`
	BaseURL string `yaml:"base_url"`
	// Email is the Cloud account whose API token APIToken is; Data Center
	// authenticates with APIToken alone, a personal access token.
	Email    string `yaml:"email"`
	APIToken Secret `yaml:"api_token"`
	// SearchLag is how long Jira's search may take to show a new ticket.
	// After a create whose answer was lost, the hub waits this long before
	// searching for the ticket, so that it never files a second one.
	SearchLag time.Duration `yaml:"search_lag"`
}

// Severity is one severity level, defined ahead of time. The list in the
// config is ordered most severe first, and that order is the ranking.
type Severity struct {
	Name                string   `yaml:"name"`
	Description         string   `yaml:"description"`
	PagerDutyPriorities []string `yaml:"pagerduty_priorities"`
	// Urgency (high or low) matches pages that have no listed priority.
	Urgency string `yaml:"urgency"`
	// Review is required, optional or none.
	Review          string        `yaml:"review"`
	ReviewOpenAfter time.Duration `yaml:"review_open_after"`
	// RolesExpected are the incident roles a record of this severity
	// should have once acknowledged (commander, communications), matched
	// by whole words against PagerDuty's role names.
	RolesExpected []string `yaml:"roles_expected,omitempty"`
	// RolesGrace is how long after the acknowledgement they may stay
	// open (DefaultRolesGrace when zero).
	RolesGrace time.Duration `yaml:"roles_grace,omitempty"`
}

// Service is one service the team runs, and where its facts live.
type Service struct {
	Name                string   `yaml:"name"`
	PagerDutyServiceIDs []string `yaml:"pagerduty_service_ids"`
	GitHubRepos         []string `yaml:"github_repos"`
	DeployEnvironments  []string `yaml:"deploy_environments"`
	DeployWorkflows     []string `yaml:"deploy_workflows"`
	JiraProject         string   `yaml:"jira_project"`
	JiraIssueType       string   `yaml:"jira_issue_type"`
	// JiraFields are values the service's tickets always carry, by Jira
	// field id: the project's required fields (components, custom fields
	// such as customfield_10042), as Jira's REST API takes them.
	JiraFields map[string]any `yaml:"jira_fields,omitempty"`
	Playbook   string         `yaml:"playbook"`
	// PagerDutyRoutingKey is an Events API v2 integration key of the
	// service: with it, the service's changes are sent to PagerDuty as
	// change events and show among its incidents' recent changes.
	PagerDutyRoutingKey Secret `yaml:"pagerduty_routing_key,omitempty"`
}

// Correlation holds the windows that group events into records.
type Correlation struct {
	// MergeWindow: a page on a service with a record opened within this
	// window joins that record (a page storm is one incident).
	MergeWindow time.Duration `yaml:"merge_window"`
	// ChangeLookback: changes this long before a record opened are
	// attached to it as recent changes.
	ChangeLookback time.Duration `yaml:"change_lookback"`
}

// Review configures the review lifecycle.
type Review struct {
	OpenAfter time.Duration `yaml:"open_after"`
	DueWithin time.Duration `yaml:"due_within"`
	// Template is an organisation's own review doc template (Go
	// text/template), relative to the configuration file; empty: the
	// hub's.
	Template string `yaml:"template,omitempty"`
}

// Awareness configures low-priority records that announce risky work.
type Awareness struct {
	Labels           []string      `yaml:"labels"`
	AutoResolveAfter time.Duration `yaml:"auto_resolve_after"`
}

// Review policies of a severity.
const (
	ReviewRequired = "required"
	ReviewOptional = "optional"
	ReviewNone     = "none"
)

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Default returns the configuration that an empty file means.
func Default() Config {
	return Config{
		Listen:      ":8080",
		Storage:     Storage{Driver: DriverSQLite, Synchronous: "full"},
		Intake:      Intake{MaxBodyBytes: 5 << 20, MaxBytesInFlight: 32 << 20},
		Correlation: Correlation{MergeWindow: 30 * time.Minute, ChangeLookback: 2 * time.Hour},
		Review:      Review{OpenAfter: 12 * time.Hour, DueWithin: 48 * time.Hour},
		Awareness:   Awareness{Labels: []string{"risky-migration"}, AutoResolveAfter: 2 * time.Hour},
		Jobs:        Jobs{Timeout: 2 * time.Minute, RescueAfter: 5 * time.Minute},
		Processing:  Processing{Lease: 30 * time.Second},
		Retention:   Retention{Deliveries: 30 * 24 * time.Hour},
		Jira:        Jira{Flavor: JiraCloud, SearchLag: 30 * time.Second},
		PagerDuty:   PagerDuty{Notes: Notes{Triage: true, LiveChanges: true}},
	}
}

// applyDefaults fills what only makes sense per element.
func (c *Config) applyDefaults() {
	if c.Jira.Flavor == "" {
		c.Jira.Flavor = JiraCloud
	}
	// Only SQLite has a sensible default location; a PostgreSQL DSN must
	// be given.
	if c.Storage.Driver == DriverSQLite && c.Storage.DSN == "" {
		c.Storage.DSN = "file:data/incidenthub.db"
	}
	for i := range c.Services {
		if len(c.Services[i].DeployEnvironments) == 0 {
			c.Services[i].DeployEnvironments = []string{"production"}
		}
		if c.Services[i].JiraIssueType == "" {
			c.Services[i].JiraIssueType = DefaultJiraIssueType
		}
	}
}
