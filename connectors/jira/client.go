package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	jira "github.com/andygrunwald/go-jira"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
)

//lint:file-ignore ST1005 Jira is a proper noun: its errors begin with it as the other connectors' begin with PagerDuty and GitHub.

// NewClient returns a go-jira client for the site at base_url,
// authenticated with the account's email and API token, sending through
// hc (the hub's retrying client).
func NewClient(cfg config.Jira, hc *http.Client) (*jira.Client, error) {
	auth := &jira.BasicAuthTransport{Username: cfg.Email, Password: cfg.APIToken.Value(), Transport: hc.Transport}
	authed := *hc
	authed.Transport = auth
	c, err := jira.NewClient(&authed, strings.TrimSuffix(cfg.BaseURL, "/")+"/")
	if err != nil {
		return nil, fmt.Errorf("jira.base_url: %w", err)
	}
	return c, nil
}

// Tickets files and finds tickets on one Jira site.
type Tickets struct {
	client *jira.Client
}

// NewTickets returns the adapter.
func NewTickets(c *jira.Client) *Tickets { return &Tickets{client: c} }

// NewTicket is what the hub files.
type NewTicket struct {
	Project, IssueType, Summary, Description string
	Labels                                   []string
	// Priority and AssigneeAccountID are optional.
	Priority, AssigneeAccountID string
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
	if n.AssigneeAccountID != "" {
		fields.Assignee = &jira.User{AccountID: n.AssigneeAccountID}
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
	found, resp, err := t.client.Issue.SearchV2JQLWithContext(ctx, "labels = "+quoted,
		&jira.SearchOptionsV2{MaxResults: 2, Fields: []string{"summary", "labels", "status"}})
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
