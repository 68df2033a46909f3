package router

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Attachment puts a change on a record's timeline.
type Attachment struct {
	RecordID  int64
	ChangeKey string
	Entry     incident.TimelineEntry
	// Actions are side effects on the record the change is attached to
	// (which is not the decision's Record).
	Actions []incident.Action
}

// repoService returns the service whose github_repos list the repository
// (GitHub names are case-insensitive).
func (r Rules) repoService(repo string) (Service, bool) {
	for _, s := range r.Services {
		for _, sr := range s.GitHubRepos {
			if strings.EqualFold(sr, repo) {
				return s, true
			}
		}
	}
	return Service{}, false
}

// MergeChange folds a change event into what the store knows of that
// change (stored is nil for a new one). It maps the repository to its
// service and applies the service's filters; a non-empty reason means the
// change is not one the hub keeps.
func MergeChange(stored *incident.Change, ev incident.Event, r Rules) (incident.Change, string) {
	c := *ev.Change
	c.Labels = slices.Clone(c.Labels)
	svc, ok := r.repoService(c.Repo)
	if !ok {
		return c, fmt.Sprintf("repository %s is not listed by any service's github_repos", c.Repo)
	}
	c.Service = svc.Name
	switch c.Kind {
	case incident.ChangeDeploy:
		if !slices.Contains(svc.DeployEnvironments, c.Environment) {
			return c, fmt.Sprintf("deployment to %q; service %s deploys to %v", c.Environment, svc.Name, svc.DeployEnvironments)
		}
	case incident.ChangeWorkflow:
		if !isDeployWorkflow(svc.DeployWorkflows, c.Workflow) {
			return c, fmt.Sprintf("workflow %s is not one of service %s's deploy_workflows", c.Workflow, svc.Name)
		}
	}
	if stored != nil && c.Kind == incident.ChangeDeploy {
		c = mergeDeployment(*stored, c)
	}
	if c.Kind == incident.ChangeDeploy {
		c.At = c.StateAt
		if !c.SucceededAt.IsZero() {
			c.At = c.SucceededAt
		}
	}
	return c, ""
}

// mergeDeployment applies a deployment or status event to the stored
// deployment: the newest state wins, whatever order they arrive in, and
// the first success is when the deployment took effect.
func mergeDeployment(stored, ev incident.Change) incident.Change {
	m := stored
	m.Labels = slices.Clone(stored.Labels)
	if !ev.StateAt.Before(stored.StateAt) {
		m.State, m.StateAt = ev.State, ev.StateAt
		if ev.URL != "" {
			m.URL = ev.URL
		}
	}
	if ev.State == "success" && (m.SucceededAt.IsZero() || ev.StateAt.Before(m.SucceededAt)) {
		m.SucceededAt = ev.StateAt
	}
	// A status event carries its deployment: fill what was not known.
	for _, f := range []struct{ dst, src *string }{
		{&m.SHA, &ev.SHA}, {&m.Ref, &ev.Ref}, {&m.Actor, &ev.Actor}, {&m.Title, &ev.Title}, {&m.URL, &ev.URL},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
	if len(m.Labels) == 0 {
		m.Labels = slices.Clone(ev.Labels)
	}
	return m
}

// isDeployWorkflow matches a workflow file against the configured names:
// "deploy.yml" matches ".github/workflows/deploy.yml".
func isDeployWorkflow(configured []string, workflow string) bool {
	for _, w := range configured {
		if w == workflow || w == path.Base(workflow) {
			return true
		}
	}
	return false
}

// ChangeQuery names the records a change may belong on: those of its
// service opened no later than lookback after it and not resolved before it.
func ChangeQuery(c incident.Change, r Rules) (service string, openedBy, resolvedFrom time.Time) {
	return c.Service, c.At.Add(r.ChangeLookback), c.At
}

// attachable reports whether c belongs on rec: within the lookback before
// the record opened (a recent change), or while it was open.
func attachable(rec *incident.Record, c incident.Change, lookback time.Duration) bool {
	if rec.Service != c.Service || c.At.Before(rec.OpenedAt.Add(-lookback)) {
		return false
	}
	return rec.ResolvedAt.IsZero() || !c.At.After(rec.ResolvedAt)
}

func decideChange(s State, ev incident.Event, r Rules, now time.Time) Decision {
	if s.Change == nil {
		return Decision{Ignore: "change not merged"}
	}
	c := *s.Change
	d := Decision{Change: &c}
	// Only an announcement has a cause, and keeps it when a page makes it
	// an incident, or after it resolved (its time ran out before the
	// deployment succeeded): among the records named or those holding the
	// change, it says the change was announced already.
	causedBy := func(rec incident.Record) bool { return rec.Cause == c.Key }
	announced := slices.ContainsFunc(s.Records, causedBy) || slices.ContainsFunc(s.Holding, causedBy)
	for i := range s.Records {
		rec := &s.Records[i]
		if attachable(rec, c, r.ChangeLookback) {
			d.Attach = append(d.Attach, Attachment{RecordID: rec.ID, ChangeKey: c.Key, Entry: ChangeEntry(c),
				Actions: r.liveChangeNotes(rec, c, now)})
		}
	}
	// A deployment's time moves with its state (its first success is when
	// it took effect): one that now took effect after a record resolved
	// comes off it, as it would had it arrived so.
	for i := range s.Holding {
		rec := &s.Holding[i]
		if c.Key != rec.Cause && !attachable(rec, c, r.ChangeLookback) {
			d.Detach = append(d.Detach, Attachment{RecordID: rec.ID, ChangeKey: c.Key, Entry: ChangeEntry(c)})
		}
	}
	if r.sendsChangeEvent(s.Known, c) {
		d.ChangeActions = []incident.Action{{Kind: incident.ActionChangeEvent, Change: c.Key}}
	}
	if !announced && r.isAwareness(c) {
		d.Record, d.Opened = r.awarenessRecord(c), true
		d.Entries = []incident.TimelineEntry{{
			At: c.At, Source: string(ev.Source), Kind: incident.EntryAwarenessOpened, Key: "awareness:" + c.Key,
			Summary: fmt.Sprintf("Opened to announce a risky change (%s); resolves itself after %s unless something pages",
				strings.Join(r.matchingLabels(c), ", "), r.AwarenessAutoResolve),
		}}
		d.Attach = append(d.Attach, Attachment{ChangeKey: c.Key, Entry: ChangeEntry(c)})
	}
	return d
}

// sendsChangeEvent: a change goes to PagerDuty's recent changes once,
// when the event that makes it take effect is decided (a deployment's
// first success, a deploy workflow's successful run; a merge, release or
// push at once), whatever statuses follow and however often each is
// delivered, and only for a service with a routing key.
func (r Rules) sendsChangeEvent(known *incident.Change, c incident.Change) bool {
	svc, ok := r.repoService(c.Repo)
	if !ok || !svc.ChangeEvents || !tookEffect(c) {
		return false
	}
	return known == nil || !tookEffect(*known)
}

// tookEffect reports whether a change is in effect: a deployment or a
// deploy workflow only once it succeeded.
func tookEffect(c incident.Change) bool {
	switch c.Kind {
	case incident.ChangeDeploy:
		return !c.SucceededAt.IsZero()
	case incident.ChangeWorkflow:
		return c.State == "success"
	}
	return true
}

// liveChangeWindow is how recent a change must be, when it is decided,
// to be news to the people paged: a change delivered late or replayed
// (its incident may only look open because its resolves are still to be
// decided) is on the timeline, not worth a note.
const liveChangeWindow = 15 * time.Minute

// liveChangeNotes tell the pages of an open incident of a change that
// landed on its service while it is open: a rollback or a fix deploy is
// news to the responders. Changes before it opened are in the pages'
// triage notes. A change decided again (its deployment's next status)
// asks again; the job finds its note and adds none.
func (r Rules) liveChangeNotes(rec *incident.Record, c incident.Change, now time.Time) []incident.Action {
	if !r.LiveChangeNotes || rec.Kind != incident.KindIncident || !rec.Status.Active() || c.At.Before(rec.OpenedAt) ||
		c.At.Before(now.Add(-liveChangeWindow)) {
		return nil
	}
	var out []incident.Action
	for _, p := range rec.Pages {
		out = append(out, incident.Action{Kind: incident.ActionLiveChangeNote, Target: p.ID, Change: c.Key})
	}
	return out
}

// isAwareness: a merged pull request or a deployment carrying one of the
// awareness labels announces itself (PRACTICES.md: raise incidents even
// when in doubt; announce risky migrations as low-priority incidents).
func (r Rules) isAwareness(c incident.Change) bool {
	return (c.Kind == incident.ChangeMerge || c.Kind == incident.ChangeDeploy) && len(r.matchingLabels(c)) > 0
}

func (r Rules) matchingLabels(c incident.Change) []string {
	var out []string
	for _, l := range c.Labels {
		if slices.Contains(r.AwarenessLabels, l) {
			out = append(out, l)
		}
	}
	return out
}

func (r Rules) awarenessRecord(c incident.Change) *incident.Record {
	severity := ""
	if n := len(r.Severities); n > 0 {
		severity = r.Severities[n-1].Name
	}
	title := c.Title
	if title == "" {
		title = c.Repo + "@" + c.ShortSHA()
	}
	return &incident.Record{
		Title: "Announced: " + title, Status: incident.StatusOpen, Kind: incident.KindAwareness,
		Severity: severity, Service: c.Service, CorrelationKey: c.Service, OpenedAt: c.At, Cause: c.Key,
	}
}

// ChangesFor returns the changes that belong on rec, for a record opened
// or moved by a page: the service's changes within the lookback before it
// opened, and those while it was open.
func ChangesFor(rec *incident.Record, changes []incident.Change, r Rules) []Attachment {
	var out []Attachment
	for _, c := range changes {
		if attachable(rec, c, r.ChangeLookback) {
			out = append(out, Attachment{RecordID: rec.ID, ChangeKey: c.Key, Entry: ChangeEntry(c)})
		}
	}
	return out
}

// ChangesNoLongerFor returns the attached changes that do not belong on
// rec now that it moved: attached while it looked open, they came after
// the resolve decided since (a storm's resolves decided before a deploy
// that followed them would have left the deploy off). So the changes a
// record shows do not depend on the order its deliveries were decided
// in. The change an awareness record announces always stays.
func ChangesNoLongerFor(rec *incident.Record, attached []incident.Change, r Rules) []Attachment {
	var out []Attachment
	for _, c := range attached {
		if c.Key != rec.Cause && !attachable(rec, c, r.ChangeLookback) {
			out = append(out, Attachment{RecordID: rec.ID, ChangeKey: c.Key, Entry: ChangeEntry(c)})
		}
	}
	return out
}

// ChangesQuery names the changes that may belong on rec.
func ChangesQuery(rec *incident.Record, r Rules) (service string, from, to time.Time) {
	return rec.Service, rec.OpenedAt.Add(-r.ChangeLookback), rec.ResolvedAt
}

// ChangeEntry is a change's line on a timeline; its key makes a change
// appear once per record however often it is delivered, and its text
// follows the change's newest state.
func ChangeEntry(c incident.Change) incident.TimelineEntry {
	return incident.TimelineEntry{
		At: c.At, Source: string(incident.SourceGitHub), Kind: incident.EntryChange,
		Key: "change:" + c.Key, URL: c.URL, Summary: c.Summary(),
	}
}

// Expire resolves an awareness record that nothing paged within the
// configured time. It returns nil when rec stays as it is.
func Expire(rec incident.Record, r Rules, now time.Time) *Decision {
	due := rec.OpenedAt.Add(r.AwarenessAutoResolve)
	if rec.Kind != incident.KindAwareness || !rec.Status.Active() || len(rec.Pages) > 0 || now.Before(due) {
		return nil
	}
	rec = rec.Clone()
	rec.Status, rec.ResolvedAt = incident.StatusResolved, due
	return &Decision{Record: &rec, Entries: []incident.TimelineEntry{{
		At: due, Source: "incidenthub", Kind: incident.EntryStatusChanged, Key: "awareness:expired:" + rec.Ref(),
		Summary: fmt.Sprintf("Resolved by itself: nothing paged within %s of the announced change", r.AwarenessAutoResolve),
	}}}
}
