package github_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/pipeline/pipelinetest"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
	"github.com/incidenthub/incidenthub/router"
)

type reviewBundle struct {
	fake   *githubtest.Fake
	store  *store.Store
	hub    *pipelinetest.Hub
	rules  router.Rules
	worker *github.ReviewWorker
	id     int64
}

// docs is what the review worker writes from, for cfg.
func docs(cfg *config.Config) github.Docs {
	return github.Docs{Repo: cfg.GitHub.ReviewRepo, Lookback: cfg.Correlation.ChangeLookback, DueWithin: cfg.Review.DueWithin,
		Severities: cfg.Severities, Services: cfg.Services, People: cfg.People, Rules: pipeline.RulesFrom(cfg)}
}

func reviewConfig(fakeURL string) *config.Config {
	cfg := config.Default()
	cfg.GitHub = config.GitHub{Token: config.NewSecret("t"), BaseURL: fakeURL, ReviewRepo: "acme/incidents"}
	cfg.Severities = []config.Severity{{Name: "SEV2", Description: "Major degradation.", Review: config.ReviewRequired}, {Name: "SEV4", Review: config.ReviewNone}}
	cfg.Services = []config.Service{{Name: "payments", Playbook: "https://wiki.example.com/payments"}}
	cfg.People = []config.Person{{Name: "Harsh Santwani", GitHub: "harsh"}}
	return &cfg
}

// setupReview stores a resolved SEV2 and a worker writing to the double.
func setupReview(t *testing.T) *reviewBundle {
	t.Helper()
	fake := githubtest.New(t)
	cfg := reviewConfig(fake.URL)
	s := storetest.SQLite(t)

	opened := time.Date(2026, 4, 1, 2, 7, 30, 0, time.UTC)
	rec := &incident.Record{
		Title: "Checkout API @oncall high latency", Status: incident.StatusResolved, Kind: incident.KindIncident,
		Severity: "SEV2", Service: "payments", CorrelationKey: "payments", Commander: "Harsh Santwani",
		OpenedAt: opened, AcknowledgedAt: opened.Add(6 * time.Minute), ResolvedAt: opened.Add(45 * time.Minute),
		Pages: []*incident.Page{{ID: "Q3B15VLMF3ASBD", Number: 5, Status: incident.PageResolved}, {ID: "Q05XJA8GDXGOB3", Number: 6, Status: incident.PageResolved}},
	}
	rules := pipeline.RulesFrom(cfg)
	rules.ReviewActions(nil, rec) // as the router decided when it resolved
	require.NoError(t, s.Update(context.Background(), func(tx *store.Tx) error {
		return tx.SaveRecord(context.Background(), rec, []incident.TimelineEntry{{At: opened, Source: "pagerduty", Kind: incident.EntryPageTriggered, Key: "k1", Summary: "#5 triggered"}})
	}))

	hc := httpclient.New(httpclient.Options{Retries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond, Timeout: 300 * time.Millisecond})
	client, err := github.NewClient(cfg.GitHub, hc)
	require.NoError(t, err)
	issues := github.NewIssues(client, cfg.GitHub.ReviewRepo, github.NewWriteGate())
	github.SetIssuesSleep(issues, func(context.Context, time.Duration) {})
	hub := pipelinetest.New(s, rules)
	w := github.NewReviewWorker(docs(cfg), issues, s, hub.Reporter, slog.New(slog.DiscardHandler))
	return &reviewBundle{fake: fake, store: s, hub: hub, rules: rules, worker: w, id: rec.ID}
}

// work runs the job once and lets the router decide on what it reported.
func (b *reviewBundle) work(t *testing.T) error {
	t.Helper()
	err := b.worker.Work(context.Background(), &river.Job[github.ReviewDocArgs]{
		JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: github.ReviewDocArgs{IncidentID: b.id},
	})
	b.hub.Process(t)
	return err
}

// enqueued are the actions the router asked for on the record.
func (b *reviewBundle) enqueued(t *testing.T) []incident.Action {
	t.Helper()
	var out []incident.Action
	for _, e := range b.hub.Actions() {
		require.Equal(t, b.id, e.IncidentID)
		out = append(out, e.Action)
	}
	return out
}

// settle runs the job and the follow-up run it asks for, as River would.
func (b *reviewBundle) settle(t *testing.T) {
	t.Helper()
	require.NoError(t, b.work(t))
	require.NoError(t, b.work(t))
}

// runUntilDone retries as River would, up to a bound.
func (b *reviewBundle) runUntilDone(t *testing.T) []error {
	t.Helper()
	var errs []error
	for range 6 {
		err := b.work(t)
		if err == nil {
			return errs
		}
		errs = append(errs, err)
		var cancel *river.JobCancelError
		require.False(t, errors.As(err, &cancel), "cancelled: %v", err)
	}
	t.Fatalf("never succeeded: %v", errs)
	return nil
}

func TestReviewDocOpensOnce(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	require.NoError(t, b.work(t))
	enqueued := b.enqueued(t)
	require.Contains(t, enqueued, incident.Action{Kind: incident.ActionReviewDoc}, "one more run, to add the opening to the timeline")
	require.NoError(t, b.work(t))
	require.NoError(t, b.work(t), "then there is nothing to change")

	issues := b.fake.Issues()
	require.Len(t, issues, 1)
	issue := issues[1]
	require.Equal(t, "INC-1: Checkout API @\u200Boncall high latency — incident review", issue.Title)
	require.Equal(t, []string{"incident", "SEV2", "service:payments", "incidenthub:INC-1"}, issue.Labels)
	require.Contains(t, issue.Body, "<!-- incidenthub:incident INC-1")
	require.Contains(t, issue.Body, "## How did our systems surprise us?")
	require.Len(t, b.fake.Writes(), 3, "one create, one summary, one edit, then nothing")
	comments := b.fake.Comments(1)
	require.Len(t, comments, 1)
	require.Contains(t, comments[0], "**INC-1 resolved.** SEV2 on payments; acknowledged 6m after it opened; resolved 45m after it opened")
	require.Len(t, enqueued, 4)
	require.Equal(t, incident.ActionReviewReminder, enqueued[0].Kind, "one reminder, when the review is due")
	require.WithinDuration(t, time.Now().Add(48*time.Hour), enqueued[0].RunAt, time.Minute)
	require.Equal(t, []incident.Action{
		{Kind: incident.ActionPageNote, Target: "Q3B15VLMF3ASBD"}, {Kind: incident.ActionPageNote, Target: "Q05XJA8GDXGOB3"},
	}, enqueued[2:], "a note linking the doc on each page")
	require.Empty(t, issue.Assignees, "harsh has no access to the repository: opened unassigned")

	rec, err := b.store.Incident(context.Background(), b.id)
	require.NoError(t, err)
	require.Equal(t, 1, rec.ReviewDocNumber)
	require.Equal(t, "https://github.example/acme/incidents/issues/1", rec.ReviewDoc)
	require.Equal(t, incident.EntryReviewOpened, rec.Timeline[len(rec.Timeline)-1].Kind)
}

// Whatever GitHub does, one review issue exists at the end.
func TestReviewDocExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults []githubtest.Fault
	}{
		{"500", []githubtest.Fault{{Op: "create", Status: 500}}},
		{"502 after creating", []githubtest.Fault{{Op: "create", Status: 502, Effect: true}}},
		{"503 after creating", []githubtest.Fault{{Op: "create", Status: 503, Effect: true}}},
		{"timeout after creating", []githubtest.Fault{{Op: "create", Stall: 700 * time.Millisecond, Effect: true}}},
		{"429 with Retry-After", []githubtest.Fault{{Op: "create", Status: 429, Headers: map[string]string{"Retry-After": "3600"}}}},
		{"429 without Retry-After, twice", []githubtest.Fault{{Op: "create", Status: 429}, {Op: "create", Status: 429}}},
		{"secondary rate limit", []githubtest.Fault{{Op: "create", Status: 403, Headers: map[string]string{"Retry-After": "60"}}}},
		// One 503 is absorbed by the client's own retry; two reach the job.
		{"list unavailable", []githubtest.Fault{{Op: "list", Status: 503}, {Op: "list", Status: 503}}},
		{"summary comment lost after posting", []githubtest.Fault{{Op: "comment", Status: 502, Effect: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupReview(t)
			b.fake.Faults = tc.faults
			errs := b.runUntilDone(t)
			require.NotEmpty(t, errs, "the fault was seen")
			require.Len(t, b.fake.Issues(), 1, "exactly one review issue")
			require.Len(t, b.fake.Comments(1), 1, "exactly one summary")
			for _, err := range errs {
				var snooze *river.JobSnoozeError
				if errors.As(err, &snooze) {
					require.LessOrEqual(t, snooze.Duration, 15*time.Minute, "waits are capped")
				}
			}
		})
	}
}

// A refused request is final and keeps GitHub's words.
func TestReviewDocFinalRefusal(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.fake.Faults = []githubtest.Fault{{Op: "create", Status: 422}}
	err := b.work(t)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorContains(t, err, "injected 422")
}

// People's text survives an update; removed markers are left alone.
func TestReviewDocUpdatesOnlyHubSections(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.settle(t)
	body := b.fake.Issues()[1].Body
	b.fake.SetBody(1, strings.Replace(body, "## What went well?\n", "## What went well?\n\nThe rollback was quick.\n", 1))

	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		rec, err := tx.RecordByID(context.Background(), b.id)
		require.NoError(t, err)
		return tx.SaveRecord(context.Background(), rec, []incident.TimelineEntry{{At: rec.OpenedAt.Add(time.Minute), Source: "pagerduty", Kind: incident.EntryNote, Key: "k2", Summary: "Note: pool size 50"}})
	}))
	b.settle(t)
	updated := b.fake.Issues()[1].Body
	require.Contains(t, updated, "The rollback was quick.")
	require.Contains(t, updated, "pool size 50")

	b.fake.SetBody(1, "People rewrote it all.")
	b.settle(t)
	require.Equal(t, "People rewrote it all.", b.fake.Issues()[1].Body, "never overwritten")
}

// Without credentials the job is held, not failed, and says why.
func TestReviewDocHeldWithoutToken(t *testing.T) {
	t.Parallel()
	cfg := reviewConfig("http://unused.invalid")
	cfg.GitHub.Token = config.Secret{}
	w := github.NewReviewWorker(docs(cfg), nil, nil, nil, slog.New(slog.DiscardHandler))
	require.Equal(t, "github.token (or github.app) is not set", github.ReviewHeld(cfg.GitHub))
	err := w.Work(context.Background(), &river.Job[github.ReviewDocArgs]{JobRow: &rivertype.JobRow{}, Args: github.ReviewDocArgs{IncidentID: 1}})
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
}

// The commander is assigned when the config maps them to a GitHub login
// that GitHub accepts.
func TestReviewDocAssignedToCommander(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.fake.Collaborators = []string{"harsh"}
	b.settle(t)
	require.Equal(t, []string{"harsh"}, b.fake.Issues()[1].Assignees)
}

// With the markers gone, the update comes as a comment, once per content.
func TestReviewDocCommentsWhenMarkersAreGone(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.settle(t)
	b.fake.SetBody(1, "People rewrote it all.")
	b.settle(t)
	b.settle(t)
	comments := b.fake.Comments(1)
	require.Len(t, comments, 2, "the summary, then one update")
	require.Contains(t, comments[1], "leaves the description as you wrote it")
	require.Contains(t, comments[1], "| Severity | **SEV2**")
	require.Equal(t, "People rewrote it all.", b.fake.Issues()[1].Body)
}

// When what people wrote and the hub's sections no longer fit GitHub's
// limit, the update comes as a comment and their text stays.
func TestReviewDocCommentsWhenTheDescriptionIsFull(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.settle(t)
	// People filled the description to just under GitHub's limit.
	original := b.fake.Issues()[1].Body
	written := strings.Repeat("w", 65536-utf8.RuneCountInString(original)-10)
	edited := strings.Replace(original, "## What went well?\n", "## What went well?\n\n"+written+"\n", 1)
	b.fake.SetBody(1, edited)
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		rec, err := tx.RecordByID(context.Background(), b.id)
		require.NoError(t, err)
		return tx.SaveRecord(context.Background(), rec, []incident.TimelineEntry{{At: rec.OpenedAt.Add(time.Minute), Source: "pagerduty", Kind: incident.EntryNote, Key: "k2", Summary: "Note: pool size 50"}})
	}))
	b.settle(t)
	require.True(t, edited == b.fake.Issues()[1].Body, "people's text is never cut")
	comments := b.fake.Comments(1)
	require.Contains(t, comments[len(comments)-1], "at GitHub's length limit")
	require.Contains(t, comments[len(comments)-1], "pool size 50")
}

// One reminder when the review is overdue, never more; none once closed.
func TestReviewReminderOnce(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.settle(t)
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		rec, err := tx.RecordByID(context.Background(), b.id)
		require.NoError(t, err)
		rec.ReviewDue = time.Now().Add(-time.Hour)
		return tx.SaveRecord(context.Background(), rec, nil)
	}))
	hc := httpclient.New(httpclient.Options{Retries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond})
	client, err := github.NewClient(reviewConfig(b.fake.URL).GitHub, hc)
	require.NoError(t, err)
	issues := github.NewIssues(client, "acme/incidents", github.NewWriteGate())
	github.SetIssuesSleep(issues, func(context.Context, time.Duration) {})
	w := github.NewReminderWorker(issues, b.store, b.hub.Reporter, slog.New(slog.DiscardHandler))
	job := &river.Job[github.ReviewReminderArgs]{JobRow: &rivertype.JobRow{}, Args: github.ReviewReminderArgs{IncidentID: b.id}}
	require.NoError(t, w.Work(context.Background(), job))
	require.NoError(t, w.Work(context.Background(), job))
	comments := b.fake.Comments(1)
	require.Len(t, comments, 2, "the summary and one reminder")
	require.Contains(t, comments[1], "This is the only reminder.")
}

// With comment_on_changes, each merged pull request among the incident's
// changes gets one blameless note linking the review.
func TestChangeNotes(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	cfg := reviewConfig(b.fake.URL)
	cfg.GitHub.CommentOnChanges = true
	hub := pipelinetest.New(b.store, pipeline.RulesFrom(cfg))
	merged := incident.Change{Key: "github:pull:acme/payments:88", Service: "payments", Kind: incident.ChangeMerge,
		Repo: "acme/payments", PRNumber: 88, Title: "Pool size 50", At: time.Date(2026, 4, 1, 1, 53, 30, 0, time.UTC)}
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		require.NoError(t, tx.SaveChange(context.Background(), &merged))
		return tx.AttachChange(context.Background(), b.id, merged.Key, incident.TimelineEntry{At: merged.At, Kind: incident.EntryChange, Key: "change:" + merged.Key, Summary: "Merged"})
	}))
	hc := httpclient.New(httpclient.Options{Retries: 1, MinWait: time.Millisecond, MaxWait: time.Millisecond})
	client, err := github.NewClient(cfg.GitHub, hc)
	require.NoError(t, err)
	gate := github.NewWriteGate()
	issues := github.NewIssues(client, cfg.GitHub.ReviewRepo, gate)
	github.SetIssuesSleep(issues, func(context.Context, time.Duration) {})
	w := github.NewReviewWorker(docs(cfg), issues, b.store, hub.Reporter, slog.New(slog.DiscardHandler))
	require.NoError(t, w.Work(context.Background(), &river.Job[github.ReviewDocArgs]{JobRow: &rivertype.JobRow{}, Args: github.ReviewDocArgs{IncidentID: b.id}}))
	hub.Process(t)
	var enqueued []incident.Action
	for _, e := range hub.Actions() {
		enqueued = append(enqueued, e.Action)
	}
	require.Contains(t, enqueued, incident.Action{Kind: incident.ActionChangeNote, Target: merged.Key})

	notes := github.NewChangeNoteWorker(client, gate, b.store, hub.Reporter, slog.New(slog.DiscardHandler))
	job := &river.Job[github.ChangeNoteArgs]{JobRow: &rivertype.JobRow{}, Args: github.ChangeNoteArgs{IncidentID: b.id, ChangeKey: merged.Key}}
	require.NoError(t, notes.Work(context.Background(), job))
	require.NoError(t, notes.Work(context.Background(), job))
	comments := b.fake.Comments(88)
	require.Len(t, comments, 1, "once")
	require.Contains(t, comments[0], "This was merged 14 minutes before INC-1 began (Checkout API @\u200Boncall high latency). It may or may not be related; the incident review is here: https://github.example/acme/incidents/issues/1")
}

// GitHub's secondary limit as it really comes (a 403 naming no time, with
// documentation_url) parks the job for at least a minute, never a loop.
func TestSecondaryLimitWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.fake.Faults = []githubtest.Fault{{Op: "list", Status: 403, Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.GreaterOrEqual(t, snooze.Duration, time.Minute)
	require.Empty(t, b.fake.Issues())
}

// A 429 naming no time snoozes for a while, not for a second.
func TestRateLimitWithoutTimeSnoozesForAWhile(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.fake.Faults = []githubtest.Fault{{Op: "list", Status: 429}, {Op: "list", Status: 429}}
	err := b.work(t)
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.GreaterOrEqual(t, snooze.Duration, 30*time.Second)
}

// The job was scheduled when the record resolved; when it runs it follows
// what the router has decided since: a reopened record or a severity that
// no longer asks for a review gets no doc, and the decompression time is
// waited out. Each edit is decided as the router would (ReviewActions).
func TestReviewDocDueAtRunTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		edit     func(*incident.Record)
		snoozing bool
		opens    bool
	}{
		{"reopened meanwhile", func(r *incident.Record) { r.Status = incident.StatusOpen }, false, false},
		{"severity now without review", func(r *incident.Record) { r.Severity = "SEV4" }, false, false},
		{"within the decompression time", func(r *incident.Record) { r.ResolvedAt = time.Now().Add(-time.Hour) }, true, false},
		{"asked for at once (the CLI)", func(r *incident.Record) {
			r.ResolvedAt, r.ReviewRequested, r.ReviewOpensAt = time.Now(), true, time.Now()
		}, false, true},
		// A drill's debrief opens at once: nobody decompresses from training.
		{"a drill", func(r *incident.Record) {
			r.Kind, r.ResolvedAt = incident.KindDrill, time.Now().Add(-time.Minute)
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupReview(t)
			require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
				rec, err := tx.RecordByID(context.Background(), b.id)
				require.NoError(t, err)
				before := rec.Clone()
				tc.edit(rec)
				b.rules.ReviewActions(&before, rec)
				return tx.SaveRecord(context.Background(), rec, nil)
			}))
			err := b.work(t)
			var snooze *river.JobSnoozeError
			require.Equal(t, tc.snoozing, errors.As(err, &snooze), "%v", err)
			require.Equal(t, tc.opens, len(b.fake.Issues()) == 1)
		})
	}
}

// A record resolved before the router recorded when its doc opens (jobs
// queued across an upgrade) still gets its doc, by the router's rule.
func TestReviewDocForARecordResolvedBeforeTheUpgrade(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	require.NoError(t, b.store.Update(context.Background(), func(tx *store.Tx) error {
		rec, err := tx.RecordByID(context.Background(), b.id)
		require.NoError(t, err)
		rec.ReviewOpensAt = time.Time{}
		return tx.SaveRecord(context.Background(), rec, nil)
	}))
	require.NoError(t, b.work(t))
	require.Len(t, b.fake.Issues(), 1)
}
