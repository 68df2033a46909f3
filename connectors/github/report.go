package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/report"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

// PostReportArgs opens or updates the month's report issue in the review
// repo (`incidenthub report --post`).
type PostReportArgs struct {
	// Month names the issue (2026-11): one per month, updated by each post.
	Month   string    `json:"month"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Service string    `json:"service,omitempty"`
}

// Kind implements river.JobArgs.
func (PostReportArgs) Kind() string { return "github.post_report" }

// InsertOpts: not unique; each post computes the report when it runs,
// and the issue is found again by its label. (A post unique while one is
// unfinished would lose a request made while one runs, as River keeps
// running jobs unique. Two posts of one month at the same moment may
// open two issues instead; later posts update one of them.)
func (PostReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts}
}

// Label is the label that finds the month's report issue again. GitHub
// takes labels of up to 50 characters, so a service is named by a hash
// (its name is in the title).
func (a PostReportArgs) Label() string {
	l := "incidenthub:report:" + a.Month
	if a.Service != "" {
		sum := sha256.Sum256([]byte(a.Service))
		l += ":" + hex.EncodeToString(sum[:4])
	}
	return l
}

// ReportWorker posts reports: the figures computed when it runs, from
// the store, as a Mermaid-charted issue that GitHub renders.
type ReportWorker struct {
	river.WorkerDefaults[PostReportArgs]

	issues     ReviewIssues // nil: held, for the reason in held
	held       string
	store      report.Reader
	severities []string
	log        *slog.Logger
}

// NewReportWorker returns the worker; it holds its jobs as the review
// worker does.
func NewReportWorker(issues ReviewIssues, s report.Reader, severities []string, log *slog.Logger) *ReportWorker {
	return &ReportWorker{issues: issues, held: heldWithout, store: s, severities: severities,
		log: log.With("component", "reports")}
}

// Work computes the report and writes the month's issue.
func (w *ReportWorker) Work(ctx context.Context, job *river.Job[PostReportArgs]) error {
	a := job.Args
	if w.issues == nil {
		return actions.Hold(ctx, w.log, w.held, "report", a.Month)
	}
	// Ages at the period's end, as `incidenthub report` gives them: the
	// issue and the command agree on the same period.
	rep, err := report.Load(ctx, w.store, report.Options{Since: a.Since, Until: a.Until, Service: a.Service,
		Now: a.Until, Severities: w.severities})
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- incidenthub:report %s -->\n", a.Label())
	if err := report.Markdown(&b, rep, w.severities); err != nil {
		return river.JobCancel(err)
	}
	body := b.String()
	if reviewdoc.TooLong(body) {
		return river.JobCancel(fmt.Errorf("the report has %d characters, more than GitHub takes: post a shorter period or one service", len(body)))
	}
	found, err := w.issues.FindByLabel(ctx, a.Label())
	switch {
	case err != nil:
	case found == nil:
		_, err = w.issues.Create(ctx, ReportTitle(a), body, []string{"incident-report", a.Label()}, nil)
	case found.Body != body:
		err = w.issues.EditBody(ctx, found.Number, body)
	}
	if err == nil {
		w.log.Info("report posted", "month", a.Month, "service", a.Service)
	}
	return classify(ctx, err)
}

// ReportTitle is the report issue's title.
func ReportTitle(a PostReportArgs) string {
	month, err := time.Parse("2006-01", a.Month)
	title := "Incident report, " + a.Month
	if err == nil {
		title = "Incident report, " + month.Format("January 2006")
	}
	if a.Service != "" {
		title += " — " + a.Service
	}
	return title
}
