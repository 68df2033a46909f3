package jira_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/pipeline/pipelinetest"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

type fileBundle struct {
	fake   *jiratest.Fake
	store  *store.Store
	hub    *pipelinetest.Hub
	worker *jira.FileWorker
	rec    *incident.Record
	key    string
	// job is the job as River keeps it across attempts.
	job rivertype.JobRow
	// logs are the worker's, where a held job says why.
	logs *bytes.Buffer
}

const reviewDoc = "https://github.com/acme/incidents/issues/7"

// setupFile stores a record in review with one follow-up asked for, and a
// worker filing through the double.
func setupFile(t *testing.T, title string, configure ...func(*config.Config)) *fileBundle {
	t.Helper()
	fake := jiratest.New(t)
	cfg := config.Default()
	cfg.Jira = config.Jira{BaseURL: fake.URL, Email: "bot@example.com", APIToken: config.NewSecret("jira-token")}
	cfg.Services = []config.Service{{Name: "payments", JiraProject: "PAY", JiraIssueType: "Task"}}
	cfg.People = []config.Person{{Name: "Ana Ortiz", GitHub: "ana", JiraAccountID: "5b10ac8d82e05b22cc7d4ef5"}}
	for _, c := range configure {
		c(&cfg)
	}
	s := storetest.SQLite(t)
	opened := time.Date(2026, 4, 1, 2, 7, 30, 0, time.UTC)
	rec := &incident.Record{
		Title: "Checkout API high latency", Status: incident.StatusReviewing, Kind: incident.KindIncident,
		Severity: "SEV2", Service: "payments", CorrelationKey: "payments", OpenedAt: opened, ResolvedAt: opened.Add(time.Hour),
		ReviewDoc: reviewDoc, ReviewDocNumber: 7,
		Pages: []*incident.Page{{ID: "Q3B15VLMF3ASBD", Number: 5, Title: "Checkout API high latency", URL: "https://acme.pagerduty.com/incidents/Q3B15VLMF3ASBD"}},
	}
	f := incident.FollowUp{Key: "github:comment:1:0", Title: title, Status: incident.FollowUpOpen, RequestedBy: "ana",
		RequestedAt: opened.Add(24 * time.Hour), Origin: reviewDoc + "#issuecomment-1"}
	require.NoError(t, s.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.SaveRecord(context.Background(), rec, nil); err != nil {
			return err
		}
		f.IncidentID = rec.ID
		return tx.SaveFollowUp(context.Background(), &f)
	}))
	// Short waits, and a timeout the double's stalls outlast.
	hc := httpclient.New(httpclient.Options{Retries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond, Timeout: 300 * time.Millisecond})
	client, err := jira.NewClient(cfg.Jira, hc)
	require.NoError(t, err)
	hub := pipelinetest.New(s, pipeline.RulesFrom(&cfg))
	logs := &bytes.Buffer{}
	w := jira.NewFileWorker(jira.Filing{Jira: cfg.Jira, Services: cfg.Services, People: cfg.People, Drills: cfg.Drills}, jira.NewTickets(client, cfg.Jira.Flavor), s,
		hub.Reporter, slog.New(slog.NewTextHandler(logs, nil)))
	jira.SetSearchLag(w, 0)
	return &fileBundle{fake: fake, store: s, hub: hub, worker: w, rec: rec, key: f.Key, job: rivertype.JobRow{ID: 1, Attempt: 1}, logs: logs}
}

// work runs the job once, as River would, and lets the router decide on
// what it reported. The job's first run says that filing begins and waits
// for the router to record it; River runs it again a moment later, and so
// does work.
func (b *fileBundle) work(t *testing.T) error {
	t.Helper()
	began := !b.followUp(t).FilingSince.IsZero()
	err := b.run(t)
	if !began && !b.followUp(t).FilingSince.IsZero() {
		var snooze *river.JobSnoozeError
		require.ErrorAs(t, err, &snooze, "it waits for the router to record that filing begins")
		err = b.run(t)
	}
	return err
}

func (b *fileBundle) run(t *testing.T) error {
	t.Helper()
	row := b.job
	err := b.worker.Work(context.Background(), &river.Job[jira.FileFollowUpArgs]{
		JobRow: &row, Args: jira.FileFollowUpArgs{IncidentID: b.rec.ID, FollowUpKey: b.key},
	})
	b.hub.Process(t)
	var snooze *river.JobSnoozeError
	if err != nil && !errors.As(err, &snooze) {
		// A failed attempt: River records it and the next run is the
		// next attempt. Snoozes are not attempts.
		b.job.Attempt++
		b.job.Errors = append(b.job.Errors, rivertype.AttemptError{At: time.Now().UTC(), Attempt: row.Attempt, Error: err.Error()})
	}
	return err
}

// enqueued are the actions the router asked for on the record.
func (b *fileBundle) enqueued(t *testing.T) []incident.Action {
	t.Helper()
	var out []incident.Action
	for _, e := range b.hub.Actions() {
		require.Equal(t, b.rec.ID, e.IncidentID)
		out = append(out, e.Action)
	}
	return out
}

// runUntilDone retries as River would: at once after an error or a
// rate-limit snooze (the fault is spent), after the wait for a short
// snooze (Jira's search lag).
func (b *fileBundle) runUntilDone(t *testing.T) []error {
	t.Helper()
	var errs []error
	for range 8 {
		err := b.work(t)
		if err == nil {
			return errs
		}
		errs = append(errs, err)
		var cancel *river.JobCancelError
		require.False(t, errors.As(err, &cancel), "cancelled: %v", err)
		if snooze := (*river.JobSnoozeError)(nil); errors.As(err, &snooze) && snooze.Duration < time.Second {
			time.Sleep(snooze.Duration)
		}
	}
	t.Fatalf("never succeeded: %v", errs)
	return nil
}

// edit changes the stored follow-up, as the pipeline or a webhook would.
func (b *fileBundle) edit(t *testing.T, change func(f *incident.FollowUp)) {
	t.Helper()
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		f, err := tx.FollowUpByKey(context.Background(), b.key)
		if err != nil {
			return err
		}
		change(f)
		return tx.SaveFollowUp(context.Background(), f)
	}))
}

func (b *fileBundle) followUp(t *testing.T) incident.FollowUp {
	t.Helper()
	f, err := b.store.FollowUp(context.Background(), b.key)
	require.NoError(t, err)
	return f
}

func TestFileFollowUp(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation")
	require.NoError(t, b.work(t))

	issues := b.fake.Issues()
	require.Len(t, issues, 1)
	i := issues[0]
	require.Equal(t, "PAY", i.Project)
	require.Equal(t, "Task", i.IssueType)
	require.Equal(t, "Alert on connection pool saturation", i.Summary)
	require.Subset(t, i.Labels, []string{"incidenthub", "inc-1"})
	require.Len(t, i.Labels, 3, "and the follow-up's own label")
	require.Contains(t, i.Description, "[INC\\-1 review|"+reviewDoc+"]")
	require.Contains(t, i.Description, "https://acme.pagerduty.com/incidents/Q3B15VLMF3ASBD")
	require.Equal(t, []jiratest.RemoteLink{{ID: i.RemoteLinks[0].ID, GlobalID: "incidenthub:INC-1:review", URL: reviewDoc,
		Title: "INC-1 incident review: Checkout API high latency"}}, i.RemoteLinks)

	f := b.followUp(t)
	require.Equal(t, i.Key, f.JiraKey)
	require.Equal(t, i.ID, f.JiraID)
	require.Equal(t, b.fake.URL+"/browse/"+i.Key, f.JiraURL)
	require.True(t, f.Linked)
	require.Equal(t, []incident.Action{{Kind: incident.ActionReviewDoc}, {Kind: incident.ActionFollowUpReply, Target: b.key},
		{Kind: incident.ActionPageNote, Target: "Q3B15VLMF3ASBD", FollowUp: b.key}}, b.enqueued(t))
	rec, err := b.store.Incident(context.Background(), b.rec.ID)
	require.NoError(t, err)
	require.Equal(t, incident.EntryFollowUpFiled, rec.Timeline[len(rec.Timeline)-1].Kind)

	// A second run (River ran it twice) changes nothing.
	require.NoError(t, b.work(t))
	require.Len(t, b.fake.Issues(), 1)
	require.Len(t, b.fake.Issues()[0].RemoteLinks, 1)
	require.Empty(t, b.fake.Violations())
}

// Whatever Jira does, one ticket exists at the end.
func TestFileFollowUpExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults []jiratest.Fault
	}{
		// One 5xx is absorbed by the client's own retry for reads; a
		// create is never re-sent within the call.
		{"503 before creating", []jiratest.Fault{{Op: "create", Status: 503}}},
		{"503 after creating", []jiratest.Fault{{Op: "create", Status: 503, Effect: true}}},
		{"502 after creating, search down once", []jiratest.Fault{{Op: "create", Status: 502, Effect: true}, {Op: "search", Status: 503}, {Op: "search", Status: 503}}},
		{"timeout after creating", []jiratest.Fault{{Op: "create", Stall: 700 * time.Millisecond, Effect: true}}},
		{"429 with Retry-After", []jiratest.Fault{{Op: "create", Status: 429, Headers: map[string]string{"Retry-After": "120"}}, {Op: "create", Status: 429, Headers: map[string]string{"Retry-After": "120"}}}},
		{"remote link lost after linking", []jiratest.Fault{{Op: "remotelink", Status: 502, Effect: true}}},
		// A rate limit answered after the ticket was made spends no attempt
		// and records no error: the report made before creating is what
		// sends the next attempt to look first.
		{"503 with Retry-After after creating", []jiratest.Fault{{Op: "create", Status: 503, Effect: true, Headers: map[string]string{"Retry-After": "1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupFile(t, "Alert on connection pool saturation")
			b.fake.Faults = tc.faults
			errs := b.runUntilDone(t)
			require.NotEmpty(t, errs, "the fault was seen")
			require.Len(t, b.fake.Issues(), 1, "exactly one ticket")
			require.Equal(t, 1, b.fake.Creates())
			require.Len(t, b.fake.Issues()[0].RemoteLinks, 1, "exactly one link")
			require.Equal(t, b.fake.Issues()[0].Key, b.followUp(t).JiraKey)
			for _, err := range errs {
				var snooze *river.JobSnoozeError
				if errors.As(err, &snooze) {
					require.LessOrEqual(t, snooze.Duration, actions.MaxSnooze, "waits are capped")
				}
			}
		})
	}
}

// A 429 waits as long as Jira asks, without spending an attempt.
func TestFileFollowUpHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Pair on the pool code")
	// The client's one retry within the call honours the first; the
	// second reaches the job.
	b.fake.Faults = []jiratest.Fault{
		{Op: "create", Status: 429, Headers: map[string]string{"Retry-After": "0"}},
		{Op: "create", Status: 429, Headers: map[string]string{"Retry-After": "240"}},
	}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, 240*time.Second, snooze.Duration)
	require.Empty(t, b.fake.Issues())
	require.NoError(t, b.work(t))
	require.Len(t, b.fake.Issues(), 1)
}

// Jira's search lags behind its creates. After a create whose answer was
// lost, the worker waits out the lag before looking, so that it finds the
// ticket rather than filing a second.
func TestFileFollowUpWaitsOutSearchLag(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation")
	b.fake.SearchLag = 300 * time.Millisecond
	jira.SetSearchLag(b.worker, 400*time.Millisecond)
	b.fake.Faults = []jiratest.Fault{{Op: "create", Status: 503, Effect: true}}

	require.Error(t, b.work(t))
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze, "searching now would miss the ticket")
	require.LessOrEqual(t, snooze.Duration, 400*time.Millisecond)
	time.Sleep(snooze.Duration)
	b.fake.SetStatus(b.fake.Issues()[0].Key, "In Progress", "indeterminate") // someone started on it meanwhile
	require.NoError(t, b.work(t))
	require.Equal(t, 1, b.fake.Creates())
	require.Len(t, b.fake.Searches(), 1)
	require.Equal(t, incident.FollowUpInProgress, b.followUp(t).Status, "found by search, with its status")
}

// The ticket's webhook can record it before the job does: the job then
// files nothing.
func TestFileFollowUpAlreadyRecorded(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation")
	filed := b.fake.AddIssue(jiratest.Issue{Project: "PAY", IssueType: "Task", Summary: "Alert"})
	b.edit(t, func(f *incident.FollowUp) {
		f.JiraID, f.JiraKey, f.JiraURL = filed.ID, filed.Key, b.fake.URL+"/browse/"+filed.Key
	})
	require.NoError(t, b.work(t))
	require.Equal(t, 0, b.fake.Creates())
	require.Len(t, b.fake.Issues()[0].RemoteLinks, 1, "it still links the review doc")
}

// A priority or type the project lacks does not stop the follow-up: Jira
// refused it with a 400, which created nothing, so it is filed without.
func TestFileFollowUpWithoutRefusedOptions(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation")
	b.edit(t, func(f *incident.FollowUp) {
		f.Priority, f.Owner = "Blocker", "ana"
	})
	require.NoError(t, b.work(t))
	issues := b.fake.Issues()
	require.Len(t, issues, 1)
	require.Empty(t, issues[0].Priority)
	require.Contains(t, issues[0].Description, "Jira refused")
	require.Equal(t, 1, b.fake.Creates())
}

// owner:@login assigns the ticket to the person's Jira account.
func TestFileFollowUpAssignsOwner(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation")
	b.edit(t, func(f *incident.FollowUp) {
		f.Priority, f.IssueType, f.Owner = "High", "Bug", "ana"
	})
	require.NoError(t, b.work(t))
	i := b.fake.Issues()[0]
	require.Equal(t, "High", i.Priority)
	require.Equal(t, "Bug", i.IssueType)
	require.Equal(t, "5b10ac8d82e05b22cc7d4ef5", i.AssigneeAccountID)
}

// Hostile titles reach Jira as text: the search stays the one clause on
// the follow-up's own label, and the description neither mentions nor
// links nor runs macros.
func TestFileFollowUpHostileTitle(t *testing.T) {
	t.Parallel()
	for _, title := range []string{
		`x" OR project = OPS OR labels = "y`,
		`[~accountid:5b10ac8d82e05b22cc7d4ef5] please {code}rm -rf{code} !https://e.example/b.png! [click|javascript:alert(1)]`,
		"line one\nh1. heading\r\n* bullet",
	} {
		b := setupFile(t, title)
		require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
			rec, err := tx.RecordByID(context.Background(), b.rec.ID)
			if err != nil {
				return err
			}
			rec.Title = title // the page's title is as untrusted as the follow-up's
			return tx.SaveRecord(context.Background(), rec, nil)
		}))
		b.fake.Faults = []jiratest.Fault{{Op: "create", Status: 503, Effect: true}}
		b.runUntilDone(t)
		require.Len(t, b.fake.Issues(), 1, title)
		label := b.followUp(t).TicketLabel
		require.Equal(t, []string{`labels = "` + label + `"`}, b.fake.Searches(), "the search names only the label")
		i := b.fake.Issues()[0]
		require.NotContains(t, i.Summary, "\n")
		// What Jira would read as markup once its escapes are dropped.
		markup := regexp.MustCompile(`\\.`).ReplaceAllString(i.Description, "")
		for _, active := range []string{"[~", "{code}", "|javascript", "!https", "\nh1.", "\n* bullet"} {
			require.NotContains(t, markup, active)
		}
		require.Contains(t, i.Description, escape.JiraWiki(title), "the title is there, inert")
	}
}

// A drill's follow-up stays out of the team's project: held, for a reason
// that names no drill (one held-jobs series for them all), until
// drills.jira_project names where drills' tickets go; there it is marked
// as a drill's.
func TestFileDrillFollowUp(t *testing.T) {
	t.Parallel()
	drill := func(project string) *fileBundle {
		b := setupFile(t, "Practise the failover", func(c *config.Config) { c.Drills.JiraProject = project })
		b.rec.Kind, b.rec.Drill = incident.KindDrill, "5f1c"
		require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
			return tx.SaveRecord(context.Background(), b.rec, nil)
		}))
		return b
	}
	for _, project := range []string{"", "OPS"} {
		b := drill(project)
		err := b.work(t)
		if project == "" {
			var snooze *river.JobSnoozeError
			require.ErrorAs(t, err, &snooze)
			require.Contains(t, b.logs.String(), `reason="a drill's follow-ups stay out of the team's Jira project unless drills.jira_project is set"`)
			require.Empty(t, b.fake.Issues())
			continue
		}
		require.NoError(t, err, b.logs.String())
		issues := b.fake.Issues()
		require.Len(t, issues, 1)
		require.Equal(t, "OPS", issues[0].Project)
		require.Equal(t, "Task", issues[0].IssueType)
		require.Equal(t, "[DRILL] Practise the failover", issues[0].Summary)
	}

	// The advice names the one key a drill's tickets have.
	b := drill("OPS")
	b.fake.Fields["OPS"] = []jiratest.Field{{ID: "customfield_10042", Name: "Team", Required: true}}
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, b.work(t), &snooze)
	require.Contains(t, b.logs.String(), "Team (customfield_10042): drills' follow-ups are filed as Tasks with no fields set: choose a drills.jira_project whose Tasks need none")
	b = drill("NOPE")
	require.ErrorAs(t, b.work(t), &snooze)
	require.Contains(t, b.logs.String(), "Jira has no project NOPE that this account can see: check drills.jira_project")
}

// Without credentials the job waits, held; nothing is pretended.
func TestFileFollowUpHeldWithoutCredentials(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	s := storetest.SQLite(t)
	w := jira.NewFileWorker(jira.Filing{Jira: cfg.Jira}, nil, s, hubevent.NewReporter(s, s), slog.New(slog.DiscardHandler))
	err := w.Work(context.Background(), &river.Job[jira.FileFollowUpArgs]{JobRow: &rivertype.JobRow{}, Args: jira.FileFollowUpArgs{IncidentID: 1, FollowUpKey: "k"}})
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, "jira.base_url is not set", jira.FollowUpsHeld(cfg.Jira))
}

// A project Jira does not have holds the job, naming the key to check.
func TestFileFollowUpUnknownProjectIsHeld(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert")
	b.fake.Projects = []string{"OPS"}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Contains(t, b.logs.String(), "Jira has no project PAY that this account can see: check services[0].jira_project")
	require.Empty(t, b.fake.Issues())
}

// A project whose tickets need a field the hub has no value for: the job
// is held, naming the field and the key to set, until jira_fields gives
// it; then the ticket carries it.
func TestFileFollowUpRequiredFields(t *testing.T) {
	t.Parallel()
	team := jiratest.Field{ID: "customfield_10042", Name: "Team", Required: true}
	components := jiratest.Field{ID: "components", Name: "Components"}
	b := setupFile(t, "Alert on pool saturation")
	b.fake.Fields["PAY"] = []jiratest.Field{team, components}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Contains(t, b.logs.String(), "Team (customfield_10042): set services[0].jira_fields.customfield_10042")
	require.Empty(t, b.fake.Issues())
	require.Zero(t, b.fake.Creates(), "nothing is sent that Jira would refuse")

	b = setupFile(t, "Alert on pool saturation", func(c *config.Config) {
		c.Services[0].JiraFields = map[string]any{"customfield_10042": map[string]any{"value": "Payments"},
			"components": []any{map[string]any{"name": "Backend"}}}
	})
	b.fake.Fields["PAY"] = []jiratest.Field{team, components}
	require.NoError(t, b.work(t))
	issues := b.fake.Issues()
	require.Len(t, issues, 1)
	require.JSONEq(t, `{"value":"Payments"}`, string(issues[0].Fields["customfield_10042"]))
	require.JSONEq(t, `[{"name":"Backend"}]`, string(issues[0].Fields["components"]))
	require.Empty(t, b.fake.Violations())
}

// When Jira will not tell what its create screen needs, its refusal of
// the ticket for a field holds the job with the same advice, and no
// retry is spent on it.
func TestFileFollowUpRefusedForAField(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert")
	b.fake.Fields["PAY"] = []jiratest.Field{{ID: "customfield_10042", Name: "Team", Required: true}}
	b.fake.Faults = []jiratest.Fault{{Op: "createmeta", Status: http.StatusForbidden}}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Contains(t, b.logs.String(), "Jira refused the ticket in PAY: customfield_10042: Team is required. (set services[0].jira_fields.customfield_10042)")
	require.Equal(t, 1, b.job.Attempt, "a held job spends no attempt")
}

// A service whose issue type the project lacks is held; a follow-up's
// own type the project lacks is dropped, and the ticket says so.
func TestFileFollowUpIssueTypes(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert", func(c *config.Config) { c.Services[0].JiraIssueType = "Taks" })
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, b.work(t), &snooze)
	require.Contains(t, b.logs.String(), `Jira project PAY has no issue type \"Taks\" (it has Task, Bug, Story): set services[0].jira_issue_type`)

	b = setupFile(t, "Alert")
	b.edit(t, func(f *incident.FollowUp) { f.IssueType = "Incident" })
	require.NoError(t, b.work(t))
	i := b.fake.Issues()[0]
	require.Equal(t, "Task", i.IssueType)
	require.Contains(t, i.Description, "which Jira refused: the project has no issue type Incident")
}

// A refusal of what the hub writes itself is final, with Jira's words.
func TestFileFollowUpFinalRefusal(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert")
	b.fake.Faults = []jiratest.Fault{{Op: "create", Status: http.StatusBadRequest,
		Body: `{"errorMessages":[],"errors":{"summary":"Summary must be less than 255 characters."}}`}}
	err := b.work(t)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.True(t, strings.Contains(err.Error(), "Summary must be less than 255 characters."), err.Error())
	require.Empty(t, b.fake.Issues())
}

// On Jira Data Center the same filing authenticates with a personal
// access token, names the owner by username, reads create metadata listed
// as Data Center lists it, and after a lost answer finds the ticket with
// /search (Data Center has no /search/jql): still exactly one ticket.
func TestFileFollowUpOnDataCenter(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert on connection pool saturation", func(c *config.Config) {
		c.Jira.Flavor, c.Jira.Email = config.JiraDataCenter, ""
		c.People[0].JiraUsername = "aortiz"
		c.Services[0].JiraFields = map[string]any{"customfield_10042": map[string]any{"value": "Payments"}}
	})
	b.fake.Flavor, b.fake.APIToken = "datacenter", "jira-token"
	b.fake.Fields["PAY"] = []jiratest.Field{{ID: "customfield_10042", Name: "Team", Required: true}}
	b.fake.Faults = []jiratest.Fault{{Op: "create", Status: 502, Effect: true}}
	b.edit(t, func(f *incident.FollowUp) { f.Owner = "ana" })
	require.NotEmpty(t, b.runUntilDone(t), "the lost answer was seen")
	issues := b.fake.Issues()
	require.Len(t, issues, 1, "exactly one ticket")
	require.Equal(t, 1, b.fake.Creates())
	require.Equal(t, "aortiz", issues[0].AssigneeName)
	require.JSONEq(t, `{"value":"Payments"}`, string(issues[0].Fields["customfield_10042"]))
	require.Equal(t, issues[0].Key, b.followUp(t).JiraKey)
	require.NotEmpty(t, b.fake.Searches(), "it looked for the ticket before creating again")
	var searched bool
	for _, r := range b.fake.Requests() {
		require.NotContains(t, r, "/search/jql", "a Cloud-only path on Data Center")
		searched = searched || strings.HasPrefix(r, "GET /rest/api/2/search?")
	}
	require.True(t, searched, "Data Center's search: %v", b.fake.Requests())
	require.Empty(t, b.fake.Violations())
}

// jira_fields may give a default priority; a follow-up's own wins. A
// project requiring a priority is satisfied by either, and held by
// neither.
func TestFileFollowUpDefaultPriority(t *testing.T) {
	t.Parallel()
	screen := []jira.FieldMeta{{ID: "priority", Name: "Priority", Required: true}, {ID: "summary", Name: "Summary", Required: true}}
	require.Equal(t, []jira.FieldMeta{screen[0]}, jira.MissingFields(screen, nil))
	require.Empty(t, jira.MissingFields(screen, map[string]any{"priority": "High"}))

	withDefault := func(c *config.Config) {
		c.Services[0].JiraFields = map[string]any{"priority": map[string]any{"name": "Low"}}
	}
	b := setupFile(t, "Alert", withDefault)
	require.NoError(t, b.work(t))
	require.Equal(t, "Low", b.fake.Issues()[0].Priority)

	b = setupFile(t, "Alert", withDefault)
	b.edit(t, func(f *incident.FollowUp) { f.Priority = "High" })
	require.NoError(t, b.work(t))
	require.Equal(t, "High", b.fake.Issues()[0].Priority)
}

// A Jira without the create metadata endpoint (Server before 8.4 answers
// 404 "null for uri") does not hold filing: Jira's answer to the create
// decides.
func TestFileFollowUpWithoutCreateMetadata(t *testing.T) {
	t.Parallel()
	b := setupFile(t, "Alert")
	b.fake.Faults = []jiratest.Fault{{Op: "createmeta", Status: http.StatusNotFound,
		Body: `{"errorMessages":["null for uri: /rest/api/2/issue/createmeta/PAY/issuetypes"],"errors":{}}`}}
	require.NoError(t, b.work(t))
	require.Len(t, b.fake.Issues(), 1)
	require.Contains(t, b.logs.String(), "filing without checking the required fields")
}
