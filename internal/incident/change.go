package incident

import (
	"fmt"
	"time"
)

// Change kinds: what went out or was merged.
const (
	ChangeDeploy   = "deploy"
	ChangeMerge    = "merge"
	ChangeRelease  = "release"
	ChangePush     = "push"
	ChangeWorkflow = "workflow"
)

// Change is a deploy, merge, release, push or deploy-workflow run of a
// service's repository, kept whether or not an incident is open.
type Change struct {
	// Key identifies the change across deliveries: a deployment and all
	// its statuses are one change.
	Key     string `json:"key"`
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Repo    string `json:"repo"`
	Ref     string `json:"ref,omitempty"`
	SHA     string `json:"sha,omitempty"`
	// Environment is the deployment environment; Workflow the workflow
	// file of a deploy-workflow run.
	Environment string `json:"environment,omitempty"`
	Workflow    string `json:"workflow,omitempty"`
	// State is the newest state: a deployment status (queued, in_progress,
	// success, failure, error, inactive) or a run's conclusion.
	State    string   `json:"state,omitempty"`
	Actor    string   `json:"actor,omitempty"`
	Title    string   `json:"title,omitempty"`
	URL      string   `json:"url,omitempty"`
	PRNumber int      `json:"pr_number,omitempty"`
	Labels   []string `json:"labels,omitempty"`
	// At is when the change took effect: a deployment's success (else its
	// newest status), a merge's merged_at, a release's published_at.
	At time.Time `json:"at"`
	// StateAt is when the newest applied state happened, so that an older
	// status delivered late does not overwrite a newer one.
	StateAt time.Time `json:"state_at"`
	// SucceededAt is when a deployment first reported success.
	SucceededAt time.Time `json:"succeeded_at,omitzero"`
}

// Summary describes a change in one line, without blame: what went out,
// where, and who shipped it.
func (c Change) Summary() string {
	by := ""
	if c.Actor != "" {
		by = " by " + c.Actor
	}
	switch c.Kind {
	case ChangeDeploy:
		return fmt.Sprintf("Deploy of %s@%s to %s: %s%s", c.Repo, c.ShortSHA(), c.Environment, c.State, by)
	case ChangeMerge:
		return fmt.Sprintf("Merged %s#%d: %s%s", c.Repo, c.PRNumber, c.Title, by)
	case ChangeRelease:
		return fmt.Sprintf("Released %s %s%s", c.Repo, c.Title, by)
	case ChangePush:
		return fmt.Sprintf("Pushed %s@%s to %s: %s%s", c.Repo, c.ShortSHA(), c.Ref, c.Title, by)
	case ChangeWorkflow:
		return fmt.Sprintf("Deploy workflow %s of %s@%s: %s%s", c.Workflow, c.Repo, c.ShortSHA(), c.State, by)
	}
	return c.Kind + " " + c.Repo
}

// ShortSHA is the change's commit as people quote it: seven digits.
func (c Change) ShortSHA() string {
	if len(c.SHA) > 7 {
		return c.SHA[:7]
	}
	return c.SHA
}
