package github

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// ChangeNoteWorker leaves a blameless note on a pull request among an
// incident's changes, once (github.comment_on_changes).
type ChangeNoteWorker struct {
	river.WorkerDefaults[ChangeNoteArgs]

	client *gh.Client // nil: held, for the reason in held
	held   string
	gate   *WriteGate
	store  ReviewStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewChangeNoteWorker returns the worker; a nil client holds its jobs.
func NewChangeNoteWorker(client *gh.Client, gate *WriteGate, s ReviewStore, r Reporter, log *slog.Logger) *ChangeNoteWorker {
	return &ChangeNoteWorker{client: client, held: heldWithout, gate: gate, store: s, report: r, log: log.With("component", "change-note"), now: time.Now}
}

// Work comments on the pull request unless the hub already did.
func (w *ChangeNoteWorker) Work(ctx context.Context, job *river.Job[ChangeNoteArgs]) error {
	if w.client == nil {
		return actions.Hold(ctx, w.log, w.held, "incident", incident.FormatRef(job.Args.IncidentID))
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rec.Changes, func(c incident.Change) bool { return c.Key == job.Args.ChangeKey })
	if i < 0 || rec.Changes[i].PRNumber <= 0 || !repoName(rec.Changes[i].Repo) {
		return river.JobCancel(fmt.Errorf("%s has no pull request %s", rec.Ref(), job.Args.ChangeKey))
	}
	c := rec.Changes[i]
	pr := NewIssues(w.client, c.Repo, w.gate)
	marker := "<!-- incidenthub:change-note " + rec.Ref() + " -->"
	_, err = commentOnce(ctx, pr, c.PRNumber, marker, ChangeNote(&rec, c))
	if err == nil {
		err = w.report.Report(ctx, hubevent.Report{Key: hubevent.RecordKey(incident.EventChangeNoted, rec.ID, c.Key), Type: incident.EventChangeNoted,
			At: w.now().UTC(), IncidentID: rec.ID, Target: c.Key, URL: c.URL})
	}
	return classify(ctx, err)
}

// ChangeNote says how a change relates in time to an incident, and
// nothing more: it may or may not be related, and the review is where
// people find out together.
func ChangeNote(rec *incident.Record, c incident.Change) string {
	when := fmt.Sprintf("%s before %s began", human(rec.OpenedAt.Sub(c.At)), rec.Ref())
	if !c.At.Before(rec.OpenedAt) {
		when = fmt.Sprintf("while %s was open (%s after it began)", rec.Ref(), human(c.At.Sub(rec.OpenedAt)))
	}
	return fmt.Sprintf("This was merged %s (%s). It may or may not be related; the incident review is here: %s",
		when, escape.Markdown(rec.Title), escape.URL(rec.ReviewDoc))
}

func repoName(r string) bool {
	owner, name, ok := strings.Cut(r, "/")
	return ok && owner != "" && name != "" && !strings.ContainsAny(r, "?#% ") && !strings.Contains(name, "/")
}

// human renders a duration in minutes or hours, as people say it.
func human(d time.Duration) string {
	m := int(d.Minutes())
	if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	}
	return fmt.Sprintf("%dh%02d", m/60, m%60)
}
