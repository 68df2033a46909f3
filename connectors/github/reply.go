package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
	"github.com/incidenthub/incidenthub/internal/store"
)

// ReplyWorker confirms, once, on the review issue that a follow-up was
// filed, with its ticket.
type ReplyWorker struct {
	river.WorkerDefaults[FollowUpReplyArgs]

	issues ReviewIssues // nil: held, for the reason in held
	held   string
	store  ReviewStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewReplyWorker returns the worker; it holds its jobs as the review
// worker does.
func NewReplyWorker(issues ReviewIssues, s ReviewStore, r Reporter, log *slog.Logger) *ReplyWorker {
	return &ReplyWorker{issues: issues, held: heldWithout, store: s, report: r, log: log.With("component", "followup-reply"), now: time.Now}
}

// Work posts the reply unless an earlier attempt did.
func (w *ReplyWorker) Work(ctx context.Context, job *river.Job[FollowUpReplyArgs]) error {
	if w.issues == nil {
		return actions.Hold(ctx, w.log, w.held, "followup", job.Args.FollowUpKey)
	}
	f, err := w.store.FollowUp(ctx, job.Args.FollowUpKey)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	rec, err := w.store.Incident(ctx, f.IncidentID)
	if err != nil {
		return err
	}
	if !f.Filed() || rec.ReviewDocNumber == 0 {
		return river.JobCancel(fmt.Errorf("follow-up %s has no ticket, or %s no review doc, to reply about", f.Key, rec.Ref()))
	}
	marker := fmt.Sprintf("<!-- incidenthub:followup %s -->", f.Key)
	_, err = commentOnce(ctx, w.issues, rec.ReviewDocNumber, marker, Reply(&f))
	if err == nil {
		err = w.report.Report(ctx, hubevent.Report{Key: hubevent.FollowUpKey(incident.EventFollowUpReplied, &f), Type: incident.EventFollowUpReplied,
			At: w.now().UTC(), IncidentID: rec.ID, FollowUpKey: f.Key})
	}
	return classify(ctx, err)
}

// Reply is the confirmation: the ticket and the follow-up, escaped.
func Reply(f *incident.FollowUp) string {
	by := ""
	if f.RequestedBy != "" {
		by = " asked for by " + escape.Markdown(f.RequestedBy)
	}
	return fmt.Sprintf("Filed %s for the follow-up%s: %s. Its status shows in the Follow-ups section above.",
		reviewdoc.FollowUpRef(f), by, escape.Markdown(f.Title))
}
