package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Normalizer turns stored GitHub deliveries into change events.
type Normalizer struct{}

// Source names the deliveries Normalize accepts.
func (Normalizer) Source() incident.Source { return incident.SourceGitHub }

// Normalize parses one delivery with go-github. Events the hub does not
// act on (and go-github's unknown types) are delivery.Ignored; malformed
// payloads are errors, kept as unprocessable.
func (Normalizer) Normalize(d delivery.Delivery) ([]incident.Event, error) {
	if d.Event == "" {
		return nil, errors.New("no X-GitHub-Event header was stored with the delivery")
	}
	body, err := payload(d.Body)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(gh.MessageTypes(), d.Event) {
		// go-github's ParseWebHook errors on types it does not know.
		return nil, delivery.Ignored("GitHub event %s is not one the hub acts on", d.Event)
	}
	parsed, err := gh.ParseWebHook(d.Event, body)
	if err != nil {
		return nil, fmt.Errorf("GitHub %s payload: %w", d.Event, err)
	}
	// go-github v60 does not decode the action of deployment events.
	var envelope struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, fmt.Errorf("GitHub %s payload: %w", d.Event, err)
	}
	ev := incident.Event{Source: incident.SourceGitHub, ID: d.ID, Type: incident.EventChange}
	var c *incident.Change
	switch e := parsed.(type) {
	case *gh.PingEvent:
		return nil, delivery.Ignored("ping from hook %d: the hook reaches the hub", e.GetHookID())
	case *gh.IssuesEvent:
		if e.GetAction() == "edited" {
			return followUpEdit(ev, e)
		}
		return reviewEvent(ev, e)
	case *gh.IssueCommentEvent:
		// The hub's own comments carry its marker: their webhooks are
		// echoes and must never be acted on.
		if strings.Contains(e.GetComment().GetBody(), HubMarker) {
			return nil, delivery.Ignored("echo of the hub's own comment")
		}
		return followUpComment(ev, e)
	case *gh.DeploymentEvent:
		c, err = deployment(envelope.Action, e.GetRepo(), e.GetDeployment(), nil)
	case *gh.DeploymentStatusEvent:
		c, err = deployment(envelope.Action, e.GetRepo(), e.GetDeployment(), e.GetDeploymentStatus())
	case *gh.PushEvent:
		c, err = push(e)
	case *gh.PullRequestEvent:
		c, err = merge(e)
	case *gh.ReleaseEvent:
		c, err = release(e)
	case *gh.WorkflowRunEvent:
		c, err = workflowRun(e)
	default:
		return nil, delivery.Ignored("GitHub event %s is not one the hub acts on", d.Event)
	}
	if err != nil {
		return nil, err
	}
	if c.Repo == "" || c.At.IsZero() {
		return nil, fmt.Errorf("GitHub %s payload lacks its repository or time", d.Event)
	}
	// go-github decodes unix timestamps (push's pushed_at) in local time.
	c.At, c.StateAt = c.At.UTC(), c.StateAt.UTC()
	if !c.SucceededAt.IsZero() {
		c.SucceededAt = c.SucceededAt.UTC()
	}
	ev.Change, ev.OccurredAt, ev.Actor = c, c.At, c.Actor
	return []incident.Event{ev}, nil
}

// HubMarker starts every hidden marker the hub writes into GitHub text.
const HubMarker = "<!-- incidenthub:"

// payload unwraps a form-encoded delivery (a hook set to
// application/x-www-form-urlencoded sends payload=<json>).
func payload(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, []byte("payload=")) {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("GitHub form payload: %w", err)
	}
	return []byte(form.Get("payload")), nil
}

// reviewLabel finds an incident's review issue: the label the hub puts on
// it (incidenthub:INC-12).
var reviewLabel = regexp.MustCompile(`^incidenthub:(INC-[1-9][0-9]*)$`)

// reviewEvent reads the closing and reopening of a review issue.
func reviewEvent(ev incident.Event, e *gh.IssuesEvent) ([]incident.Event, error) {
	switch e.GetAction() {
	case "closed":
		ev.Type = incident.EventReviewClosed
	case "reopened":
		ev.Type = incident.EventReviewReopened
	default:
		return nil, delivery.Ignored("issue %s: the hub acts on closed, reopened and edited review issues", e.GetAction())
	}
	if ev.Subject = reviewSubject(e.GetIssue()); ev.Subject == "" {
		return nil, delivery.Ignored("issue #%d is not a review doc (no incidenthub:INC-n label)", e.GetIssue().GetNumber())
	}
	ev.Actor = e.GetSender().GetLogin()
	ev.IssueRepo, ev.IssueNumber = e.GetRepo().GetFullName(), e.GetIssue().GetNumber()
	ev.OccurredAt = e.GetIssue().GetUpdatedAt().Time.UTC()
	if t := e.GetIssue().GetClosedAt().Time; ev.Type == incident.EventReviewClosed && !t.IsZero() {
		ev.OccurredAt = t.UTC()
	}
	if ev.OccurredAt.IsZero() {
		return nil, fmt.Errorf("GitHub issues payload lacks its time")
	}
	return []incident.Event{ev}, nil
}

func deployment(action string, repo *gh.Repository, d *gh.Deployment, status *gh.DeploymentStatus) (*incident.Change, error) {
	if action != "created" {
		return nil, delivery.Ignored("deployment action %s", action)
	}
	if d == nil || d.ID == nil {
		return nil, errors.New("GitHub deployment payload lacks its deployment")
	}
	c := &incident.Change{
		Key:  fmt.Sprintf("github:deployment:%s:%d", strings.ToLower(repo.GetFullName()), d.GetID()),
		Kind: incident.ChangeDeploy, Repo: repo.GetFullName(), Ref: d.GetRef(), SHA: d.GetSHA(),
		Environment: d.GetEnvironment(), Actor: d.GetCreator().GetLogin(), Title: d.GetDescription(),
		URL: repo.GetHTMLURL() + "/deployments", State: "created",
		At: d.GetCreatedAt().Time, StateAt: d.GetCreatedAt().Time, Labels: deploymentLabels(d.Payload),
	}
	if status != nil {
		c.State = status.GetState()
		c.StateAt = status.GetCreatedAt().Time
		c.At = c.StateAt
		if u := firstNonEmpty(status.GetLogURL(), status.GetTargetURL()); u != "" {
			c.URL = u
		}
		if status.GetState() == "success" {
			c.SucceededAt = c.StateAt
		}
	}
	return c, nil
}

// deploymentLabels reads labels from a deployment's custom payload
// ({"labels": ["risky-migration"]}), the one place a deployment can carry
// them.
func deploymentLabels(raw json.RawMessage) []string {
	var p struct {
		Labels []string `json:"labels"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil {
		return nil
	}
	return p.Labels
}

func push(e *gh.PushEvent) (*incident.Change, error) {
	repo := e.GetRepo()
	if want := "refs/heads/" + repo.GetDefaultBranch(); e.GetRef() != want {
		return nil, delivery.Ignored("push to %s, not the default branch %s", e.GetRef(), repo.GetDefaultBranch())
	}
	if e.GetDeleted() {
		return nil, delivery.Ignored("push deleting %s", e.GetRef())
	}
	at := repo.GetPushedAt().Time
	if at.IsZero() {
		at = e.GetHeadCommit().GetTimestamp().Time
	}
	title, _, _ := strings.Cut(e.GetHeadCommit().GetMessage(), "\n")
	return &incident.Change{
		Key:  fmt.Sprintf("github:push:%s:%s", strings.ToLower(repo.GetFullName()), e.GetAfter()),
		Kind: incident.ChangePush, Repo: repo.GetFullName(), Ref: repo.GetDefaultBranch(), SHA: e.GetAfter(),
		Actor: firstNonEmpty(e.GetSender().GetLogin(), e.GetPusher().GetName()), Title: title,
		URL: e.GetCompare(), At: at, StateAt: at,
	}, nil
}

func merge(e *gh.PullRequestEvent) (*incident.Change, error) {
	pr := e.GetPullRequest()
	if e.GetAction() != "closed" || !pr.GetMerged() {
		return nil, delivery.Ignored("pull request %s without a merge", e.GetAction())
	}
	var labels []string
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	repo := e.GetRepo()
	return &incident.Change{
		Key:  fmt.Sprintf("github:pull:%s:%d", strings.ToLower(repo.GetFullName()), pr.GetNumber()),
		Kind: incident.ChangeMerge, Repo: repo.GetFullName(), Ref: pr.GetBase().GetRef(), SHA: pr.GetMergeCommitSHA(),
		Actor: firstNonEmpty(pr.GetMergedBy().GetLogin(), pr.GetUser().GetLogin()), Title: pr.GetTitle(),
		URL: pr.GetHTMLURL(), PRNumber: pr.GetNumber(), Labels: labels,
		At: pr.GetMergedAt().Time, StateAt: pr.GetMergedAt().Time, State: "merged",
	}, nil
}

func release(e *gh.ReleaseEvent) (*incident.Change, error) {
	if e.GetAction() != "published" {
		return nil, delivery.Ignored("release %s", e.GetAction())
	}
	r, repo := e.GetRelease(), e.GetRepo()
	return &incident.Change{
		Key:  fmt.Sprintf("github:release:%s:%d", strings.ToLower(repo.GetFullName()), r.GetID()),
		Kind: incident.ChangeRelease, Repo: repo.GetFullName(), Ref: r.GetTagName(), SHA: r.GetTargetCommitish(),
		Actor: r.GetAuthor().GetLogin(), Title: firstNonEmpty(r.GetName(), r.GetTagName()), URL: r.GetHTMLURL(),
		At: r.GetPublishedAt().Time, StateAt: r.GetPublishedAt().Time, State: "published",
	}, nil
}

func workflowRun(e *gh.WorkflowRunEvent) (*incident.Change, error) {
	if e.GetAction() != "completed" {
		return nil, delivery.Ignored("workflow run %s", e.GetAction())
	}
	run, repo := e.GetWorkflowRun(), e.GetRepo()
	at := run.GetUpdatedAt().Time
	return &incident.Change{
		Key:  fmt.Sprintf("github:workflow_run:%s:%d", strings.ToLower(repo.GetFullName()), run.GetID()),
		Kind: incident.ChangeWorkflow, Repo: repo.GetFullName(), Ref: run.GetHeadBranch(), SHA: run.GetHeadSHA(),
		Workflow: e.GetWorkflow().GetPath(), State: run.GetConclusion(),
		Actor: firstNonEmpty(run.GetTriggeringActor().GetLogin(), run.GetActor().GetLogin()),
		Title: run.GetName(), URL: run.GetHTMLURL(), At: at, StateAt: at,
	}, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
