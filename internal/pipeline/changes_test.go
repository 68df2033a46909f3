package pipeline_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

// fixture is a real vendor payload, decoded for editing in test code.
type fixture map[string]any

func load(t *testing.T, vendor, name string) fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", vendor, name))
	require.NoError(t, err)
	var f fixture
	require.NoError(t, json.Unmarshal(raw, &f))
	return f
}

// set changes a field at a dotted path ("deployment_status.state").
func (f fixture) set(path string, v any) fixture {
	raw, _ := json.Marshal(f)
	var c fixture
	_ = json.Unmarshal(raw, &c)
	m := map[string]any(c)
	for {
		key, rest, more := cut(path)
		if !more {
			m[key] = v
			return c
		}
		m, path = m[key].(map[string]any), rest
	}
}

func cut(path string) (string, string, bool) {
	for i := range path {
		if path[i] == '.' {
			return path[:i], path[i+1:], true
		}
	}
	return path, "", false
}

func (b *testBundle) send(t *testing.T, source incident.Source, id, event string, f fixture) {
	t.Helper()
	body, err := json.Marshal(f)
	require.NoError(t, err)
	_, err = b.store.AppendDeliveries(context.Background(), []delivery.Delivery{{
		Source: source, ID: id, Event: event, ReceivedAt: time.Now(), Body: body,
	}})
	require.NoError(t, err)
	b.drain(t)
}

func (b *testBundle) deliveryOf(t *testing.T, source incident.Source, id string) delivery.Delivery {
	t.Helper()
	d, err := b.store.Delivery(context.Background(), source, id)
	require.NoError(t, err)
	return d
}

// deploy returns a deployment_status payload of deployment n.
func deploy(t *testing.T, n int, state, at string) fixture {
	return load(t, "github", "deployment_status.created.json").
		set("deployment.id", n).set("deployment.created_at", at).
		set("deployment_status.state", state).set("deployment_status.created_at", at)
}

// announcedDeploy is deploy, labelled as a risky change that announces
// itself.
func announcedDeploy(t *testing.T, n int, state, at string) fixture {
	return deploy(t, n, state, at).set("deployment.payload", map[string]any{"labels": []string{"risky-migration"}})
}

// A deploy shortly before a page is a recent change on its record; a fix
// deploy and a merge while it is open land live; a deploy after it
// resolved does not. The timeline walks all of it in the order it
// happened, whatever order the deliveries came in.
func TestChangesOnTheTimeline(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		gh, pd := incident.SourceGitHub, incident.SourcePagerDuty

		// Deployment 1: created 13:05; its success (13:10) is delivered before
		// its in_progress (13:06); then success again under a new GUID.
		b.send(t, gh, "g1", "deployment", load(t, "github", "deployment.created.json").
			set("deployment.id", 1).set("deployment.created_at", "2021-06-04T13:05:00Z"))
		b.send(t, gh, "g2", "deployment_status", deploy(t, 1, "success", "2021-06-04T13:10:00Z"))
		b.send(t, gh, "g3", "deployment_status", deploy(t, 1, "in_progress", "2021-06-04T13:06:00Z"))
		b.send(t, gh, "g2-again", "deployment_status", deploy(t, 1, "success", "2021-06-04T13:10:00Z"))

		// The page (13:35:29) opens INC-1.
		b.send(t, pd, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
		// A fix: merged at 13:45, deployed 13:52. Staging and other repos are not kept.
		b.send(t, gh, "g4", "pull_request", load(t, "github", "pull_request.closed.json").
			set("pull_request.merged", true).set("pull_request.merged_at", "2021-06-04T13:45:00Z"))
		b.send(t, gh, "g5", "deployment_status", deploy(t, 2, "success", "2021-06-04T13:52:00Z"))
		b.send(t, gh, "g6", "deployment_status", deploy(t, 3, "success", "2021-06-04T13:53:00Z").set("deployment.environment", "staging"))
		b.send(t, gh, "g7", "deployment_status", deploy(t, 4, "success", "2021-06-04T13:54:00Z").set("repository.full_name", "acme/unrelated"))
		// A deploy at 12:00, within the 2h lookback, delivered late.
		b.send(t, gh, "g8", "deployment_status", deploy(t, 5, "success", "2021-06-04T12:00:00Z"))
		// Resolved at 14:20; a deploy at 15:00 comes after the incident.
		b.send(t, pd, "p2", "", load(t, "pagerduty", "incident.resolved.json").
			set("event.data.id", "PFQZPSY").set("event.data.number", 9).set("event.occurred_at", "2021-06-04T14:20:00Z"))
		b.send(t, gh, "g9", "deployment_status", deploy(t, 6, "success", "2021-06-04T15:00:00Z"))

		require.Equal(t, delivery.StatusProcessed, b.deliveryOf(t, gh, "g3").Status)
		require.Contains(t, b.deliveryOf(t, gh, "g6").Reason, `deployment to "staging"`)
		require.Contains(t, b.deliveryOf(t, gh, "g7").Reason, "acme/unrelated is not listed")

		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.StatusResolved, rec.Status)
		var timeline []string
		for _, e := range rec.Timeline {
			timeline = append(timeline, e.At.Format("15:04")+" "+e.Kind+" "+e.Summary)
		}
		require.Equal(t, []string{
			"12:00 change Deploy of Codertocat/Hello-World@f95f852 to production: success by Codertocat",
			"13:10 change Deploy of Codertocat/Hello-World@f95f852 to production: success by Codertocat",
			"13:35 page.triggered #9 triggered on pig208: Test Incident 3 (high urgency)",
			"13:45 change Merged Codertocat/Hello-World#2: Update the README with new information. by Codertocat",
			"13:52 change Deploy of Codertocat/Hello-World@f95f852 to production: success by Codertocat",
			"14:20 page.resolved #9 resolved by PIG 208",
			"14:20 status.changed Status open → resolved",
		}, timeline)

		out := api.FromRecord(&rec)
		var relations []string
		for _, c := range out.Changes {
			relations = append(relations, c.At.Format("15:04")+" "+c.Relation)
		}
		require.Equal(t, []string{"12:00 recent", "13:10 recent", "13:45 during", "13:52 during"}, relations)

		changes, err := b.store.Changes(context.Background(), "payments", time.Time{}, 0)
		require.NoError(t, err)
		require.Len(t, changes, 5, "the change log keeps every change of the service, incident or not")
		require.Equal(t, "success", changes[len(changes)-1].State, "deployment 1 stays at success, its newest state")
	})
}

// A deployment's entry follows its state as it moves, once per record.
func TestDeploymentStateMovesOnTheTimeline(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		b.send(t, incident.SourcePagerDuty, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
		b.send(t, incident.SourceGitHub, "g1", "deployment_status", deploy(t, 7, "in_progress", "2021-06-04T13:40:00Z"))
		b.send(t, incident.SourceGitHub, "g2", "deployment_status", deploy(t, 7, "failure", "2021-06-04T13:41:00Z"))

		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Len(t, rec.Timeline, 2)
		require.Equal(t, "Deploy of Codertocat/Hello-World@f95f852 to production: failure by Codertocat", rec.Timeline[1].Summary)
		require.Equal(t, "13:41", rec.Timeline[1].At.Format("15:04"))
	})
}

// A deployment under way while the incident was open, which took effect
// only after it resolved, comes off the record when its success is
// decided: whether the resolve was decided before the deployment began or
// after, and without another page to look at the record again.
func TestDeploymentThatTookEffectAfterTheResolveComesOff(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		for _, resolveFirst := range []bool{false, true} {
			b := setup(t, driver, nil)
			resolve := func() {
				b.send(t, incident.SourcePagerDuty, "p2", "", load(t, "pagerduty", "incident.resolved.json").
					set("event.data.id", "PFQZPSY").set("event.data.number", 9).set("event.occurred_at", "2021-06-04T14:20:00Z"))
			}
			b.send(t, incident.SourcePagerDuty, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
			if resolveFirst {
				resolve()
			}
			b.send(t, incident.SourceGitHub, "g1", "deployment_status", deploy(t, 8, "in_progress", "2021-06-04T14:10:00Z"))
			if !resolveFirst {
				resolve()
			}
			rec, err := b.store.Incident(context.Background(), 1)
			require.NoError(t, err)
			require.Len(t, rec.Changes, 1, "under way while the incident was open")

			b.send(t, incident.SourceGitHub, "g2", "deployment_status", deploy(t, 8, "success", "2021-06-04T14:30:00Z"))
			rec, err = b.store.Incident(context.Background(), 1)
			require.NoError(t, err)
			require.Empty(t, rec.Changes, "took effect after the resolve (resolve first: %v)", resolveFirst)
			for _, e := range rec.Timeline {
				require.NotEqual(t, incident.EntryChange, e.Kind, "its line goes with it")
			}
		}
	})
}

// A merged PR labelled risky-migration announces itself as a SEV4
// awareness record; a page on the service meanwhile joins it and raises it.
func TestAwarenessRecordJoinedByAPage(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		// A deploy a quarter of an hour before the announcement is one of
		// its recent changes, as it would be of any record's.
		b.send(t, incident.SourceGitHub, "g0", "deployment_status", deploy(t, 3, "success", "2021-06-04T12:30:00Z"))
		b.send(t, incident.SourceGitHub, "g1", "pull_request", load(t, "github", "pull_request.closed.json").
			set("pull_request.merged", true).set("pull_request.merged_at", "2021-06-04T12:45:00Z").
			set("pull_request.labels", []any{map[string]any{"name": "risky-migration"}}))
		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.KindAwareness, rec.Kind)
		require.Equal(t, "SEV4", rec.Severity)
		require.Equal(t, "Announced: Update the README with new information.", rec.Title)

		// 50 minutes later, beyond the 30-minute merge window.
		b.send(t, incident.SourcePagerDuty, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
		rec, err = b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.KindIncident, rec.Kind)
		require.Equal(t, "SEV2", rec.Severity)
		require.Len(t, rec.Pages, 1)
		var changes []string
		for _, c := range rec.Changes {
			changes = append(changes, c.At.Format("15:04")+" "+string(c.Kind))
		}
		require.Equal(t, []string{"12:30 deploy", "12:45 merge"}, changes, "the announcement's recent change stays, whatever joined it")
		recs, err := b.store.Incidents(context.Background(), store.IncidentFilter{})
		require.NoError(t, err)
		require.Len(t, recs, 1)
	})
}

// A page makes an announcement an incident; the announced deployment's
// success after that was announced already, and opens no second record.
// The incident's line for it shows its newest state.
func TestAnnouncedDeploymentJoinedByAPage(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil)
		b.send(t, incident.SourceGitHub, "g1", "deployment_status", announcedDeploy(t, 12, "in_progress", "2021-06-04T13:00:00Z"))
		b.send(t, incident.SourcePagerDuty, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
		b.send(t, incident.SourceGitHub, "g2", "deployment_status", announcedDeploy(t, 12, "success", "2021-06-04T13:40:00Z"))

		rec := b.onlyRecord(t, "announced once")
		require.Equal(t, incident.KindIncident, rec.Kind)
		var lines []string
		for _, e := range rec.Timeline {
			if e.Kind == incident.EntryChange {
				lines = append(lines, e.At.Format("15:04")+" "+e.Summary)
			}
		}
		require.Equal(t, []string{"13:40 Deploy of Codertocat/Hello-World@f95f852 to production: success by Codertocat"}, lines)
	})
}

// An awareness record nothing paged on resolves itself, once.
func TestAwarenessRecordExpires(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		now := time.Date(2021, 6, 4, 13, 0, 0, 0, time.UTC)
		b := setup(t, driver, nil, pipeline.WithClock(func() time.Time { return now }))
		b.send(t, incident.SourceGitHub, "g1", "deployment_status", announcedDeploy(t, 9, "success", "2021-06-04T12:45:00Z"))

		require.NoError(t, b.proc.ExpireAwareness(context.Background()))
		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.StatusOpen, rec.Status, "still within auto_resolve_after")

		// A deploy after its time ran out (14:45), decided before the timer
		// noticed: attached while the record looked open, it comes off.
		b.send(t, incident.SourceGitHub, "g2", "deployment_status", deploy(t, 10, "success", "2021-06-04T15:00:00Z"))
		rec, err = b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Len(t, rec.Changes, 2)

		now = now.Add(2*time.Hour + 10*time.Minute)
		require.NoError(t, b.proc.ExpireAwareness(context.Background()))
		require.NoError(t, b.proc.ExpireAwareness(context.Background()))
		rec, err = b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.StatusResolved, rec.Status)
		require.Equal(t, "14:45", rec.ResolvedAt.Format("15:04"), "resolved when the window ended, not when noticed")
		var kinds []string
		for _, e := range rec.Timeline {
			kinds = append(kinds, e.Kind)
		}
		require.Equal(t, []string{incident.EntryAwarenessOpened, incident.EntryChange, incident.EntryStatusChanged}, kinds)
		require.Len(t, rec.Changes, 1, "only the announced deploy")
	})
}

// An announced deployment that succeeds only after its announcement's
// time ran out was announced already: it opens no second record, and
// stays on the first, which keeps the change it announces wherever its
// time moves.
func TestAwarenessRecordOutlivedByItsDeployment(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		now := time.Date(2021, 6, 4, 13, 0, 0, 0, time.UTC)
		b := setup(t, driver, nil, pipeline.WithClock(func() time.Time { return now }))
		b.send(t, incident.SourceGitHub, "g1", "deployment_status", announcedDeploy(t, 12, "in_progress", "2021-06-04T13:00:00Z"))
		now = now.Add(2*time.Hour + 10*time.Minute)
		require.NoError(t, b.proc.ExpireAwareness(context.Background()))
		b.send(t, incident.SourceGitHub, "g2", "deployment_status", announcedDeploy(t, 12, "success", "2021-06-04T15:30:00Z"))

		rec := b.onlyRecord(t, "announced once")
		require.Equal(t, incident.StatusResolved, rec.Status)
		require.Len(t, rec.Changes, 1, "an announcement keeps the change it announces")
	})
}

// Every GitHub event the hub keeps, from GitHub's own examples, and the
// ones it records as ignored with the reason.
func TestEveryGitHubEvent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		repo := "Codertocat/Hello-World"
		for _, tc := range []struct {
			name    string
			event   string
			payload func(t *testing.T) fixture
			kind    string // the change kept, or "" when ignored
			reason  string
		}{
			{"deployment", "deployment", func(t *testing.T) fixture { return load(t, "github", "deployment.created.json") }, incident.ChangeDeploy, ""},
			{"deployment status", "deployment_status", func(t *testing.T) fixture { return load(t, "github", "deployment_status.created.json") }, incident.ChangeDeploy, ""},
			{"deployment to github-pages", "deployment_status", func(t *testing.T) fixture {
				return load(t, "github", "deployment_status.created.in_progress.json")
			}, "", `deployment to "github-pages"`},
			{"push to the default branch", "push", func(t *testing.T) fixture { return load(t, "github", "push.new-branch.json") }, incident.ChangePush, ""},
			{"push of a tag", "push", func(t *testing.T) fixture { return load(t, "github", "push.json") }, "", "not the default branch"},
			{"merged pull request", "pull_request", func(t *testing.T) fixture {
				return load(t, "github", "pull_request.closed.json").set("pull_request.merged", true).set("pull_request.merged_at", "2019-05-15T15:20:40Z")
			}, incident.ChangeMerge, ""},
			{"pull request closed unmerged", "pull_request", func(t *testing.T) fixture { return load(t, "github", "pull_request.closed.json") }, "", "without a merge"},
			{"release", "release", func(t *testing.T) fixture { return load(t, "github", "release.published.json") }, incident.ChangeRelease, ""},
			{"deploy workflow run", "workflow_run", func(t *testing.T) fixture {
				return load(t, "github", "workflow_run.completed.json").set("repository.full_name", repo).set("workflow.path", ".github/workflows/deploy.yml")
			}, incident.ChangeWorkflow, ""},
			{"failed deploy workflow run", "workflow_run", func(t *testing.T) fixture {
				return load(t, "github", "workflow_run.completed.json").set("repository.full_name", repo).
					set("workflow.path", ".github/workflows/deploy.yml").set("workflow_run.conclusion", "failure")
			}, incident.ChangeWorkflow, ""},
			{"other workflow run", "workflow_run", func(t *testing.T) fixture {
				return load(t, "github", "workflow_run.completed.json").set("repository.full_name", repo)
			}, "", "not one of service payments's deploy_workflows"},
			{"repository no service lists", "workflow_run", func(t *testing.T) fixture { return load(t, "github", "workflow_run.completed.json") }, "", "octo-org/octo-repo is not listed"},
			{"ping", "ping", func(t *testing.T) fixture { return load(t, "github", "ping.json") }, "", "ping from hook 109948940"},
			{"issue comment", "issue_comment", func(t *testing.T) fixture { return load(t, "github", "issue_comment.created.json") }, "", "without a /followup <title> line"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := setup(t, driver, nil)
				b.send(t, incident.SourceGitHub, "guid", tc.event, tc.payload(t))
				d := b.deliveryOf(t, incident.SourceGitHub, "guid")
				changes, err := b.store.Changes(context.Background(), "", time.Time{}, 0)
				require.NoError(t, err)
				if tc.kind == "" {
					require.Equal(t, delivery.StatusIgnored, d.Status)
					require.Contains(t, d.Reason, tc.reason)
					require.Empty(t, changes)
					return
				}
				require.Equal(t, delivery.StatusProcessed, d.Status, d.Reason)
				require.Len(t, changes, 1)
				require.Equal(t, tc.kind, changes[0].Kind)
				require.Equal(t, "payments", changes[0].Service)
			})
		}
	})
}

// Closing the review issue closes the record; reopening it reopens the
// review. A review issue of an incident still open does not close it.
func TestReviewIssueClosesTheRecord(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		b := setup(t, driver, nil, pipeline.WithActions(discardActions{}))
		gh, pd := incident.SourceGitHub, incident.SourcePagerDuty
		b.send(t, pd, "p1", "", load(t, "pagerduty", "incident.triggered.json"))
		review := func(action string) fixture {
			return load(t, "github", "issues.opened.json").set("action", action).
				set("issue.labels", []any{map[string]any{"name": "incident"}, map[string]any{"name": "incidenthub:INC-1"}}).
				set("issue.closed_at", "2021-06-07T10:00:00Z").set("issue.updated_at", "2021-06-08T09:00:00Z")
		}
		// The doc is issue #1 of the review repository (GitHub's example issue).
		require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
			rec, err := tx.RecordByID(context.Background(), 1)
			require.NoError(t, err)
			rec.ReviewDocNumber = 1
			return tx.SaveRecord(context.Background(), rec, nil)
		}))
		b.send(t, gh, "g1", "issues", review("closed"))
		require.Contains(t, b.deliveryOf(t, gh, "g1").Reason, "INC-1 is still open")

		b.send(t, pd, "p2", "", load(t, "pagerduty", "incident.resolved.json").
			set("event.data.id", "PFQZPSY").set("event.occurred_at", "2021-06-04T14:20:00Z"))
		b.send(t, gh, "g-other", "issues", review("closed").set("issue.number", 99))
		require.Contains(t, b.deliveryOf(t, gh, "g-other").Reason, "is not the review doc of INC-1")
		b.send(t, gh, "g2", "issues", review("closed"))
		rec, err := b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.StatusClosed, rec.Status)
		last := rec.Timeline[len(rec.Timeline)-1]
		require.Equal(t, "review.closed", last.Kind)
		require.Equal(t, "2021-06-07 10:00", last.At.Format("2006-01-02 15:04"))

		b.send(t, gh, "g3", "issues", review("reopened"))
		rec, err = b.store.Incident(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, incident.StatusReviewing, rec.Status)

		b.send(t, gh, "g4", "issues", review("closed").set("issue.labels", []any{map[string]any{"name": "bug"}}))
		require.Contains(t, b.deliveryOf(t, gh, "g4").Reason, "not a review doc")
		b.send(t, gh, "g5", "issues", load(t, "github", "issues.opened.json"))
		require.Equal(t, delivery.StatusIgnored, b.deliveryOf(t, gh, "g5").Status)
	})
}

// discardActions accepts the jobs decisions ask for, for tests about
// records only.
type discardActions struct{}

func (discardActions) Enqueue(context.Context, *sql.Tx, int64, incident.Action) error { return nil }
