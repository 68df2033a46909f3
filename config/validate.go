package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

type validator struct {
	unset    map[string]string
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// secrets reports empty secrets: an empty webhook secret would accept
// anyone's deliveries, so it is an error, never "off".
func (v *validator) secrets(path string, secrets []Secret) {
	for i, s := range secrets {
		p := fmt.Sprintf("%s[%d]", path, i)
		// An unset variable inside a secret ("pre-${UNSET}") would leave a
		// guessable remainder: refuse it as firmly as an empty one.
		if name, ok := v.unset[p]; ok {
			v.add(p, "environment variable %s is not set", name)
		} else if strings.TrimSpace(s.Value()) == "" {
			v.add(p, "empty; remove the entry to switch this off")
		}
	}
}

func (v *validator) baseURL(path, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "want an http(s) URL, got %q", Redacted(raw))
	}
}

// HubJiraFields are the ticket fields the hub always sets itself, from
// the follow-up and the service: jira_fields cannot set them. (It may
// give a default priority or assignee, which a follow-up's own replace.)
var HubJiraFields = []string{"project", "issuetype", "summary", "description", "labels"}

var jiraFieldID = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,99}$`)

var (
	repoName    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	jiraProject = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,254}$`)
	githubLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	// routingKeyFormat is an Events API v2 integration key.
	routingKeyFormat = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
)

func (c *Config) validate(unset map[string]string) []Problem {
	v := &validator{unset: unset}
	if c.Listen == "" {
		v.add("listen", "empty; want an address such as :8080")
	}
	switch c.Storage.Driver {
	case DriverSQLite:
		if !slices.Contains([]string{"full", "normal", "off"}, strings.ToLower(c.Storage.Synchronous)) {
			v.add("storage.synchronous", "want full, normal or off, got %q", c.Storage.Synchronous)
		}
		if c.Storage.DSN == "" {
			v.add("storage.dsn", "empty")
		}
	case DriverPostgres:
		if c.Storage.DSN == "" {
			v.add("storage.dsn", "empty; want postgres://user:password@host/db")
		}
	default:
		v.add("storage.driver", "want sqlite or postgres, got %q", c.Storage.Driver)
	}
	if c.Intake.MaxBodyBytes <= 0 {
		v.add("intake.max_body_bytes", "want a positive number of bytes")
	}
	if c.Intake.MaxBytesInFlight < c.Intake.MaxBodyBytes {
		v.add("intake.max_bytes_in_flight", "want at least intake.max_body_bytes (%d), got %d", c.Intake.MaxBodyBytes, c.Intake.MaxBytesInFlight)
	}
	v.secrets("api.tokens", c.API.Tokens)
	v.secrets("pagerduty.webhook_secrets", c.PagerDuty.WebhookSecrets)
	v.secrets("github.webhook_secrets", c.GitHub.WebhookSecrets)
	v.secrets("jira.webhook_secrets", c.Jira.WebhookSecrets)
	v.baseURL("pagerduty.base_url", c.PagerDuty.BaseURL)
	v.baseURL("pagerduty.events_url", c.PagerDuty.EventsURL)
	v.routingKey("pagerduty.drill_routing_key", c.PagerDuty.DrillRoutingKey)
	if p := c.Drills.JiraProject; p != "" && !jiraProject.MatchString(p) {
		v.add("drills.jira_project", "want a Jira project key such as DRILL, got %q", p)
	}
	v.baseURL("github.base_url", c.GitHub.BaseURL)
	if a := c.GitHub.App; a != nil {
		if a.ID <= 0 {
			v.add("github.app.id", "want the App's id (its settings page: App ID)")
		}
		if a.InstallationID <= 0 {
			v.add("github.app.installation_id", "want the installation's id (the number at the end of its settings URL)")
		}
		if a.PrivateKeyFile == "" {
			v.add("github.app.private_key_file", "want the path of the App's private key (.pem)")
		}
		if c.GitHub.Token.Value() != "" {
			v.add("github.token", "set github.token or github.app, not both")
		}
	}
	v.baseURL("jira.base_url", c.Jira.BaseURL)
	if c.GitHub.ReviewRepo != "" && !repoName.MatchString(c.GitHub.ReviewRepo) {
		v.add("github.review_repo", "want owner/name, got %q", c.GitHub.ReviewRepo)
	}
	for i, h := range c.GitHub.Hooks {
		p := fmt.Sprintf("github.hooks[%d]", i)
		if (h.Repo == "") == (h.Org == "") {
			v.add(p, "set exactly one of repo and org")
		}
		if h.Repo != "" && !repoName.MatchString(h.Repo) {
			v.add(p+".repo", "want owner/name, got %q", h.Repo)
		}
		if h.ID <= 0 {
			v.add(p+".id", "want the hook's numeric id")
		}
	}
	for i, p := range c.People {
		if p.Name == "" && p.PagerDutyEmail == "" {
			v.add(fmt.Sprintf("people[%d]", i), "set name or pagerduty_email")
		}
		if !githubLogin.MatchString(p.GitHub) {
			v.add(fmt.Sprintf("people[%d].github", i), "want a GitHub login, got %q", p.GitHub)
		}
	}
	c.validateSeverities(v)
	c.validateServices(v)
	if c.Correlation.MergeWindow <= 0 {
		v.add("correlation.merge_window", "want a positive duration")
	}
	if c.Correlation.ChangeLookback <= 0 {
		v.add("correlation.change_lookback", "want a positive duration")
	}
	if c.Review.OpenAfter < 0 {
		v.add("review.open_after", "want a duration of zero or more")
	}
	if c.Review.DueWithin <= 0 {
		v.add("review.due_within", "want a positive duration")
	}
	if c.Jobs.Timeout <= 0 {
		v.add("jobs.timeout", "want a positive duration")
	}
	if c.Jira.Flavor != JiraCloud && c.Jira.Flavor != JiraDataCenter {
		v.add("jira.flavor", "want %s or %s, got %q", JiraCloud, JiraDataCenter, c.Jira.Flavor)
	}
	if c.Jira.SearchLag < 0 {
		v.add("jira.search_lag", "want a duration of zero or more")
	}
	if c.Processing.Lease < 3*time.Second {
		v.add("processing.lease", "want at least 3s: a shorter lease takes over from a replica that is only slow")
	}
	if r := c.Retention.Deliveries; r != 0 && r < MinDeliveryRetention {
		v.add("retention.deliveries", "want 0 (keep forever) or at least %s, GitHub's redelivery window, got %s", MinDeliveryRetention, r)
	}
	if c.Jobs.RescueAfter < c.Jobs.Timeout {
		v.add("jobs.rescue_after", "want at least jobs.timeout (%s)", c.Jobs.Timeout)
	}
	if c.Awareness.AutoResolveAfter <= 0 {
		v.add("awareness.auto_resolve_after", "want a positive duration")
	}
	return v.problems
}

func (c *Config) validateSeverities(v *validator) {
	if len(c.Severities) == 0 {
		v.add("severities", "define at least one severity, most severe first")
	}
	names := map[string]int{}
	priorities := map[string]int{}
	for i, s := range c.Severities {
		p := fmt.Sprintf("severities[%d]", i)
		if s.Name == "" {
			v.add(p+".name", "empty")
		} else if j, dup := names[s.Name]; dup {
			v.add(p+".name", "%q is already severities[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		for k, prio := range s.PagerDutyPriorities {
			pp := fmt.Sprintf("%s.pagerduty_priorities[%d]", p, k)
			if j, dup := priorities[prio]; dup {
				v.add(pp, "%q is already mapped by severities[%d]", prio, j)
			} else {
				priorities[prio] = i
			}
		}
		if s.Urgency != "" && s.Urgency != "high" && s.Urgency != "low" {
			v.add(p+".urgency", "want high or low, got %q", s.Urgency)
		}
		if !slices.Contains([]string{ReviewRequired, ReviewOptional, ReviewNone}, s.Review) {
			v.add(p+".review", "want required, optional or none, got %q", s.Review)
		}
		if s.ReviewOpenAfter < 0 {
			v.add(p+".review_open_after", "want a duration of zero or more")
		}
		for k, role := range s.RolesExpected {
			if words := strings.Fields(role); len(words) == 0 || len(role) > 100 {
				v.add(fmt.Sprintf("%s.roles_expected[%d]", p, k), "want a role name such as commander or communications, got %q", role)
			}
		}
		if s.RolesGrace < 0 {
			v.add(p+".roles_grace", "want a duration of zero (the default, %s) or more", DefaultRolesGrace)
		}
	}
}

func (c *Config) validateServices(v *validator) {
	names := map[string]int{}
	pdIDs := map[string]int{}
	repos := map[string]int{}
	for i, s := range c.Services {
		p := fmt.Sprintf("services[%d]", i)
		switch j, dup := names[s.Name]; {
		case s.Name == "":
			v.add(p+".name", "empty")
		case s.Name == "unmapped":
			v.add(p+".name", `"unmapped" is reserved for pages from unconfigured services`)
		case dup:
			v.add(p+".name", "%q is already services[%d]", s.Name, j)
		default:
			names[s.Name] = i
		}
		for k, id := range s.PagerDutyServiceIDs {
			pp := fmt.Sprintf("%s.pagerduty_service_ids[%d]", p, k)
			if j, dup := pdIDs[id]; dup {
				v.add(pp, "%q is already listed by services[%d]", id, j)
			} else if id == "" {
				v.add(pp, "empty")
			} else {
				pdIDs[id] = i
			}
		}
		for k, r := range s.GitHubRepos {
			pp := fmt.Sprintf("%s.github_repos[%d]", p, k)
			switch j, dup := repos[strings.ToLower(r)]; {
			case !repoName.MatchString(r):
				v.add(pp, "want owner/name, got %q", r)
			case dup:
				v.add(pp, "%q is already listed by services[%d]", r, j)
			default:
				repos[strings.ToLower(r)] = i
			}
		}
		if s.JiraProject != "" && !jiraProject.MatchString(s.JiraProject) {
			v.add(p+".jira_project", "want a Jira project key such as PAY, got %q", s.JiraProject)
		}
		for _, id := range slices.Sorted(maps.Keys(s.JiraFields)) {
			pp := p + ".jira_fields." + id
			switch {
			case !jiraFieldID.MatchString(id):
				v.add(pp, "want a Jira field id such as components or customfield_10042")
			case slices.Contains(HubJiraFields, id):
				v.add(pp, "the hub sets %s itself", id)
			case s.JiraFields[id] == nil:
				v.add(pp, "want a value")
			}
		}
		if s.Playbook != "" {
			v.baseURL(p+".playbook", s.Playbook)
		}
		v.routingKey(p+".pagerduty_routing_key", s.PagerDutyRoutingKey)
	}
}

// routingKey checks an Events API v2 integration key: 32 letters and
// digits as PagerDuty issues them. Its value is never echoed.
func (v *validator) routingKey(path string, key Secret) {
	if name, ok := v.unset[path]; ok {
		v.add(path, "environment variable %s is not set", name)
		return
	}
	if key.Value() != "" && !routingKeyFormat.MatchString(key.Value()) {
		v.add(path, "want the 32-character integration key of an Events API v2 integration on the service")
	}
}

// userInfo finds the credentials of a URL: after "//", up to the last @
// before the path.
var userInfo = regexp.MustCompile(`(//)[^/]*@`)

// keyValuePassword finds the password of a key=value DSN
// (host=db password='s3 cret' dbname=hub).
var keyValuePassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redacted is raw (a URL or a DSN) fit to print: a password in it, in URL
// form (postgres://hub:s3cret@db/hub, https://bot:token@jira) or key=value
// form (password=s3cret), is replaced by "xxxxx".
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Not a URL Go reads (a space, a bad escape): whatever sits
		// between the scheme and an @ may be a credential.
		return userInfo.ReplaceAllString(keyValuePassword.ReplaceAllString(raw, "${1}xxxxx"), "${1}xxxxx@")
	}
	if u.User != nil {
		raw = u.Redacted()
		// A username alone may be a token too (https://token@host).
		if _, hasPassword := u.User.Password(); !hasPassword && u.User.Username() != "" {
			u.User = url.User("xxxxx")
			raw = u.String()
		}
	}
	return keyValuePassword.ReplaceAllString(raw, "${1}xxxxx")
}
