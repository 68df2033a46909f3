package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	jira "github.com/andygrunwald/go-jira"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
)

//lint:file-ignore ST1005 Jira is a proper noun: its errors begin with it as the other connectors' begin with PagerDuty and GitHub.

// NewClient returns a go-jira client for the site at base_url, sending
// through hc (the hub's retrying client), authenticated as the flavour
// does: on Cloud with the account's email and API token (Basic), on Data
// Center with a personal access token (Bearer).
func NewClient(cfg config.Jira, hc *http.Client) (*jira.Client, error) {
	// The token is read for each request: a rotated secret file takes
	// effect at once.
	authed := httpclient.Authorized(hc, func(h http.Header) {
		if cfg.Flavor == config.JiraDataCenter {
			h.Set("Authorization", "Bearer "+cfg.APIToken.Value())
			return
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.Email+":"+cfg.APIToken.Value())))
	})
	c, err := jira.NewClient(authed, strings.TrimSuffix(cfg.BaseURL, "/")+"/")
	if err != nil {
		return nil, fmt.Errorf("jira.base_url: %w", err)
	}
	return c, nil
}

// Tickets files and finds tickets on one Jira site.
type Tickets struct {
	client *jira.Client
	// dataCenter: the site is Jira Data Center or Server, which names
	// users by username and searches at /search.
	dataCenter bool
}

// NewTickets returns the adapter for a site of the flavour
// (config.JiraCloud or config.JiraDataCenter).
func NewTickets(c *jira.Client, flavor string) *Tickets {
	return &Tickets{client: c, dataCenter: flavor == config.JiraDataCenter}
}

// NewTicket is what the hub files.
type NewTicket struct {
	Project, IssueType, Summary, Description string
	Labels                                   []string
	// Priority and Assignee are optional; Assignee is a Cloud account id
	// or a Data Center username, as the site names users.
	Priority, Assignee string
	// Fields are the service's jira_fields, by field id.
	Fields map[string]any
}

// Error is Jira's answer to a failed call: its status, headers (for
// Retry-After) and its own words.
type Error struct {
	Op         string
	StatusCode int
	Header     http.Header
	Messages   []string
	Fields     map[string]string
}

func (e *Error) Error() string {
	var parts []string
	parts = append(parts, e.Messages...)
	for f, m := range e.Fields {
		parts = append(parts, f+": "+m)
	}
	return fmt.Sprintf("Jira %s answered %d: %s", e.Op, e.StatusCode, strings.Join(parts, "; "))
}

// apiError turns go-jira's error into an *Error when Jira answered.
func apiError(op string, resp *jira.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp == nil || resp.Response == nil {
		return fmt.Errorf("Jira %s: %w", op, err)
	}
	e := &Error{Op: op, StatusCode: resp.StatusCode, Header: resp.Header}
	var jerr *jira.Error
	if errors.As(err, &jerr) {
		e.Messages, e.Fields = jerr.ErrorMessages, jerr.Errors
	} else if resp.Body != nil {
		// go-jira leaves the body of some failures unread.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		if parsed := new(jira.Error); len(body) > 0 && json.Unmarshal(body, parsed) == nil {
			e.Messages, e.Fields = parsed.ErrorMessages, parsed.Errors
		} else if len(body) > 0 {
			e.Messages = []string{strings.TrimSpace(string(body))}
		}
	}
	return e
}

// Create files a ticket.
func (t *Tickets) Create(ctx context.Context, n NewTicket) (*incident.Ticket, error) {
	fields := &jira.IssueFields{
		Project: jira.Project{Key: n.Project}, Type: jira.IssueType{Name: n.IssueType},
		Summary: n.Summary, Description: n.Description, Labels: n.Labels,
	}
	if n.Priority != "" {
		fields.Priority = &jira.Priority{Name: n.Priority}
	}
	switch {
	case n.Assignee != "" && t.dataCenter:
		fields.Assignee = &jira.User{Name: n.Assignee}
	case n.Assignee != "":
		fields.Assignee = &jira.User{AccountID: n.Assignee}
	}
	if len(n.Fields) > 0 {
		fields.Unknowns = maps.Clone(n.Fields)
	}
	created, resp, err := t.client.Issue.CreateWithContext(ctx, &jira.Issue{Fields: fields})
	if err != nil {
		return nil, apiError("create issue", resp, err)
	}
	if created.ID == "" || created.Key == "" {
		return nil, errors.New("Jira created an issue but answered without its id or key")
	}
	return &incident.Ticket{ID: created.ID, Key: created.Key, URL: t.browse(created.Key), Project: n.Project,
		Summary: n.Summary, Labels: n.Labels}, nil
}

// FieldMeta is a field of a project's create screen.
type FieldMeta struct {
	ID              string `json:"fieldId"`
	Name            string `json:"name"`
	Required        bool   `json:"required"`
	HasDefaultValue bool   `json:"hasDefaultValue"`
}

// ErrNoIssueType is returned by CreateFields for an issue type the
// project does not have.
var ErrNoIssueType = errors.New("no such issue type")

// ErrNoProject is returned by CreateFields when Jira says the project does
// not exist (or the account cannot see it). A 404 without that (Jira
// Server before 8.4 has no such endpoint) is returned as Jira's *Error.
var ErrNoProject = errors.New("no such project")

// maxCreateMetaPages bounds the pages of fields read for one issue type;
// a create screen has tens of fields, a page holds 200.
const maxCreateMetaPages = 10

// CreateFields returns the fields a ticket of the issue type (by name) in
// the project can be created with, and which are required: Jira's create
// metadata (GET /issue/createmeta/{project}/issuetypes/{id}, paged). It
// also returns the names of the project's issue types.
func (t *Tickets) CreateFields(ctx context.Context, project, issueType string) ([]FieldMeta, []string, error) {
	// Cloud lists under issueTypes and fields, Data Center under values.
	type typeMeta struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	var types struct {
		IssueTypes []typeMeta `json:"issueTypes"`
		Values     []typeMeta `json:"values"`
	}
	if err := t.get(ctx, "read create metadata", "rest/api/2/issue/createmeta/"+url.PathEscape(project)+"/issuetypes?maxResults=200", &types); err != nil {
		var je *Error
		if errors.As(err, &je) && je.StatusCode == http.StatusNotFound && strings.Contains(strings.ToLower(strings.Join(je.Messages, " ")), "project") {
			return nil, nil, fmt.Errorf("Jira project %s: %w", project, ErrNoProject)
		}
		return nil, nil, err
	}
	var id string
	names := make([]string, 0, len(types.IssueTypes)+len(types.Values))
	for _, it := range append(types.IssueTypes, types.Values...) {
		names = append(names, it.Name)
		if strings.EqualFold(it.Name, issueType) {
			id = it.ID
		}
	}
	if id == "" {
		return nil, names, fmt.Errorf("Jira project %s: %w %q", project, ErrNoIssueType, issueType)
	}
	var fields []FieldMeta
	for range maxCreateMetaPages {
		var pg struct {
			Fields []FieldMeta `json:"fields"`
			Values []FieldMeta `json:"values"`
			Total  int         `json:"total"`
		}
		path := fmt.Sprintf("rest/api/2/issue/createmeta/%s/issuetypes/%s?maxResults=200&startAt=%d",
			url.PathEscape(project), url.PathEscape(id), len(fields))
		if err := t.get(ctx, "read create metadata", path, &pg); err != nil {
			return nil, names, err
		}
		got := append(pg.Fields, pg.Values...)
		fields = append(fields, got...)
		if len(got) == 0 || len(fields) >= pg.Total {
			break
		}
	}
	return fields, names, nil
}

// get reads one JSON resource of the REST API.
func (t *Tickets) get(ctx context.Context, op, path string, v any) error {
	req, err := t.client.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("Jira %s: %w", op, err)
	}
	resp, err := t.client.Do(req, v)
	return apiError(op, resp, err)
}

// label is what the hub's own labels look like; anything else is refused
// before it reaches a query.
var label = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// FindByLabel returns the ticket with the label, or nil. Jira's search is
// eventually consistent: a ticket created seconds ago may not show yet.
func (t *Tickets) FindByLabel(ctx context.Context, l string) (*incident.Ticket, error) {
	if !label.MatchString(l) {
		return nil, fmt.Errorf("refusing to search for label %q", l)
	}
	quoted, err := escape.JQLString(l)
	if err != nil {
		return nil, err
	}
	fields := []string{"summary", "labels", "status"}
	var (
		found []jira.Issue
		resp  *jira.Response
	)
	if t.dataCenter {
		// Data Center has no /search/jql, Cloud's replacement of /search.
		found, resp, err = t.client.Issue.SearchWithContext(ctx, "labels = "+quoted, &jira.SearchOptions{MaxResults: 2, Fields: fields})
	} else {
		found, resp, err = t.client.Issue.SearchV2JQLWithContext(ctx, "labels = "+quoted, &jira.SearchOptionsV2{MaxResults: 2, Fields: fields})
	}
	if err != nil {
		return nil, apiError("search", resp, err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	i := found[0]
	ticket := &incident.Ticket{ID: i.ID, Key: i.Key, URL: t.browse(i.Key)}
	if i.Fields != nil {
		ticket.Summary, ticket.Labels = i.Fields.Summary, i.Fields.Labels
		if i.Fields.Status != nil {
			ticket.Status, ticket.StatusCategory = i.Fields.Status.Name, i.Fields.Status.StatusCategory.Key
		}
	}
	return ticket, nil
}

// Link adds a remote link to the ticket, or updates the one with the same
// global id: Jira keeps one link per global id, so a retry never adds a
// second.
func (t *Tickets) Link(ctx context.Context, key, globalID, url, title string) error {
	_, resp, err := t.client.Issue.AddRemoteLinkWithContext(ctx, key, &jira.RemoteLink{
		GlobalID: globalID, Relationship: "incident review",
		Object: &jira.RemoteLinkObject{URL: url, Title: title},
	})
	return apiError("add remote link", resp, err)
}

func (t *Tickets) browse(key string) string {
	base := t.client.GetBaseURL()
	base.Path = strings.TrimSuffix(base.Path, "/") + "/browse/" + key
	return base.String()
}
