package pagerduty

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/riverqueue/river"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/httpclient"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// NoteStore reads the record, and the follow-up, a note links.
type NoteStore interface {
	Incident(ctx context.Context, id int64) (incident.Record, error)
	FollowUp(ctx context.Context, key string) (incident.FollowUp, error)
}

// NoteWorker adds, once per page, a note linking the review doc, and one
// per follow-up linking its ticket.
type NoteWorker struct {
	river.WorkerDefaults[PageNoteArgs]

	client *pd.Client // nil: held
	held   string
	from   string
	store  NoteStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewClient returns a go-pagerduty client on the hub's HTTP client,
// pointed at base_url when set (a test server, or an EU account's API).
func NewClient(cfg config.PagerDuty, hc *http.Client) *pd.Client {
	var opts []pd.ClientOptions
	if cfg.BaseURL != "" {
		opts = append(opts, pd.WithAPIEndpoint(strings.TrimSuffix(cfg.BaseURL, "/")))
	}
	c := pd.NewClient(cfg.APIToken.Value(), opts...)
	c.HTTPClient = hc
	return c
}

// NewNoteWorker returns the worker; without credentials it holds its jobs.
func NewNoteWorker(cfg config.PagerDuty, s NoteStore, r Reporter, log *slog.Logger) *NoteWorker {
	w := &NoteWorker{held: NotesHeld(cfg), from: cfg.FromEmail, store: s, report: r, log: log.With("component", "pagerduty-notes"),
		now: time.Now}
	if w.held == "" {
		w.client = NewClient(cfg, httpclient.New(httpclient.Options{Logger: log}))
	}
	return w
}

// pagerDutyID matches PagerDuty object ids. Ids come from payloads and end
// up in API paths, so anything else is refused rather than sent.
var pagerDutyID = regexp.MustCompile(`^[A-Z0-9]{1,40}$`)

// note is the note's text and the marker that finds it again after an
// ambiguous failure, instead of adding a second: one per record for the
// review doc, one per follow-up for its ticket.
func (w *NoteWorker) note(ctx context.Context, rec *incident.Record, followUpKey string) (content, marker string, err error) {
	if followUpKey == "" {
		if rec.ReviewDoc == "" {
			return "", "", river.JobCancel(fmt.Errorf("%s has no review doc to link", rec.Ref()))
		}
		marker = "[incidenthub " + rec.Ref() + "]"
		return fmt.Sprintf("Review doc for %s (%s): %s %s", rec.Ref(), rec.Title, rec.ReviewDoc, marker), marker, nil
	}
	f, err := w.store.FollowUp(ctx, followUpKey)
	if err != nil {
		return "", "", err
	}
	if !f.Filed() {
		return "", "", river.JobCancel(fmt.Errorf("follow-up %s of %s has no ticket to link", f.Key, rec.Ref()))
	}
	marker = "[incidenthub " + rec.Ref() + " " + f.JiraKey + "]"
	return fmt.Sprintf("Follow-up of %s filed in Jira: %s %s (%s) %s", rec.Ref(), f.JiraKey,
		incident.ClipTitle(f.Title), f.JiraURL, marker), marker, nil
}

// Work adds the note unless the page already has it, and reports it.
func (w *NoteWorker) Work(ctx context.Context, job *river.Job[PageNoteArgs]) error {
	if !pagerDutyID.MatchString(job.Args.PageID) {
		return river.JobCancel(fmt.Errorf("%q is not a PagerDuty incident id", job.Args.PageID))
	}
	if w.client == nil {
		w.log.Warn("PagerDuty note held", "incident", incident.FormatRef(job.Args.IncidentID), "reason", w.held)
		return actions.Hold(ctx, w.held)
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	content, marker, err := w.note(ctx, &rec, job.Args.FollowUpKey)
	if err != nil {
		return err
	}
	ctx, last := httpclient.WithLastResponse(ctx)
	err = addNote(ctx, w.client, w.from, job.Args.PageID, content, marker)
	if err == nil {
		key := hubevent.RecordKey(incident.EventNoteAdded, rec.ID, job.Args.PageID)
		if job.Args.FollowUpKey != "" {
			key += ":" + job.Args.FollowUpKey
		}
		err = w.report.Report(ctx, hubevent.Report{Key: key, Type: incident.EventNoteAdded, At: w.now().UTC(),
			IncidentID: rec.ID, PageID: job.Args.PageID, FollowUpKey: job.Args.FollowUpKey})
	}
	return classify(ctx, err, last)
}

// addNote adds a note, from the user named from, unless a note on the
// page carries its marker: an attempt whose answer was lost added it.
func addNote(ctx context.Context, client *pd.Client, from, pageID, content, marker string) error {
	notes, err := client.ListIncidentNotesWithContext(ctx, pageID)
	if err != nil {
		return err
	}
	for _, n := range notes {
		if strings.Contains(n.Content, marker) {
			return nil
		}
	}
	_, err = client.CreateIncidentNoteWithContext(ctx, pageID, pd.IncidentNote{
		Content: content,
		// go-pagerduty sends the note user's summary as the From header.
		User: pd.APIObject{Summary: from},
	})
	return err
}
