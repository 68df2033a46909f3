package jira

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

//lint:file-ignore ST1005 Jira is a proper noun: its errors begin with it as the other connectors' begin with PagerDuty and GitHub.

// Normalizer turns stored Jira deliveries into follow-up events.
type Normalizer struct{}

// Source names the deliveries Normalize accepts.
func (Normalizer) Source() incident.Source { return incident.SourceJira }

// webhook is the part of a Jira Cloud delivery the hub reads
// (developer.atlassian.com/cloud/jira/platform/webhooks).
type webhook struct {
	// Timestamp is when Jira raised the event, in epoch milliseconds.
	Timestamp    int64    `json:"timestamp"`
	WebhookEvent string   `json:"webhookEvent"`
	User         *user    `json:"user"`
	Issue        *issue   `json:"issue"`
	Comment      *comment `json:"comment"`
}

type user struct {
	DisplayName string `json:"displayName"`
	Name        string `json:"name"`
}

func (u *user) label() string {
	if u == nil {
		return ""
	}
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Name
}

type issue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Self   string `json:"self"`
	Fields struct {
		Summary string   `json:"summary"`
		Labels  []string `json:"labels"`
		Updated string   `json:"updated"`
		Project struct {
			Key string `json:"key"`
		} `json:"project"`
		Status *struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
		Resolution *struct {
			Name string `json:"name"`
		} `json:"resolution"`
		Assignee *user `json:"assignee"`
	} `json:"fields"`
}

type comment struct {
	ID     string          `json:"id"`
	Body   json.RawMessage `json:"body"`
	Author *user           `json:"author"`
	// Visibility restricts a comment to a group or role.
	Visibility *struct {
		Value string `json:"value"`
	} `json:"visibility"`
	// JSDPublic is false for a service-desk agent's internal note.
	JSDPublic *bool `json:"jsdPublic"`
}

// jiraTime is the layout of Jira's REST v2 times: 2017-01-30T18:32:14.716+0100.
const jiraTime = "2006-01-02T15:04:05.000-0700"

// Normalize parses one delivery. Events other than issues created,
// updated and deleted, and comments created, are delivery.Ignored.
func (Normalizer) Normalize(d delivery.Delivery) ([]incident.Event, error) {
	var w webhook
	if err := json.Unmarshal(d.Body, &w); err != nil {
		return nil, fmt.Errorf("Jira payload: %w", err)
	}
	ev := incident.Event{Source: incident.SourceJira, ID: d.ID, Type: incident.EventFollowUpUpdated, Actor: w.User.label()}
	switch w.WebhookEvent {
	case "jira:issue_created", "jira:issue_updated", "jira:issue_deleted":
	case "comment_created":
		if w.Comment == nil {
			return nil, fmt.Errorf("Jira comment_created payload lacks its comment")
		}
		if w.Comment.Visibility != nil || (w.Comment.JSDPublic != nil && !*w.Comment.JSDPublic) {
			// Restricted in Jira: never echoed into a review doc others read.
			return nil, delivery.Ignored("Jira comment %s is restricted to some people", w.Comment.ID)
		}
		ev.Type, ev.Actor, ev.Text = incident.EventFollowUpComment, w.Comment.Author.label(), commentText(w.Comment.Body)
	case "":
		return nil, fmt.Errorf("Jira payload lacks webhookEvent")
	default:
		return nil, delivery.Ignored("Jira event %s is not one the hub acts on", w.WebhookEvent)
	}
	if w.Issue == nil || w.Issue.ID == "" || w.Issue.Key == "" {
		return nil, fmt.Errorf("Jira %s payload lacks its issue", w.WebhookEvent)
	}
	t := &incident.Ticket{
		ID: w.Issue.ID, Key: w.Issue.Key, URL: browseURL(w.Issue.Self, w.Issue.Key),
		Project: w.Issue.Fields.Project.Key, Summary: w.Issue.Fields.Summary, Labels: w.Issue.Fields.Labels,
		Assignee: w.Issue.Fields.Assignee.label(), Deleted: w.WebhookEvent == "jira:issue_deleted",
	}
	if s := w.Issue.Fields.Status; s != nil {
		t.Status, t.StatusCategory = s.Name, s.StatusCategory.Key
	}
	if r := w.Issue.Fields.Resolution; r != nil {
		t.Resolution = r.Name
	}
	ev.Ticket = t
	switch {
	case w.Timestamp > 0:
		ev.OccurredAt = time.UnixMilli(w.Timestamp).UTC()
	default:
		at, err := time.Parse(jiraTime, w.Issue.Fields.Updated)
		if err != nil {
			return nil, fmt.Errorf("Jira %s payload lacks its time", w.WebhookEvent)
		}
		ev.OccurredAt = at.UTC()
	}
	return []incident.Event{ev}, nil
}

// browseURL is the page people open for an issue: the site of its REST
// self link, then /browse/KEY.
func browseURL(self, key string) string {
	u, err := url.Parse(self)
	if err != nil || u.Host == "" {
		return ""
	}
	prefix, _, _ := strings.Cut(u.Path, "/rest/")
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: prefix + "/browse/" + key}).String()
}

// commentText reads a comment body: a string from REST v2 hooks, an
// Atlassian Document (its text nodes) from v3 ones.
func commentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	var b strings.Builder
	var walk func(any)
	walk = func(n any) {
		switch v := n.(type) {
		case map[string]any:
			if text, ok := v["text"].(string); ok {
				b.WriteString(text)
			}
			if v["type"] == "paragraph" && b.Len() > 0 {
				b.WriteString(" ")
			}
			walk(v["content"])
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return strings.TrimSpace(b.String())
}
