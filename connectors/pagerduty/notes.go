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

// pageNotes writes the hub's notes on pages, for every note job: one
// client and From, a note found again by its marker before it is written,
// and a report once it is. Each job only composes its note.
type pageNotes struct {
	client *pd.Client // nil: held
	held   string
	from   string
	store  NoteStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

func newPageNotes(cfg config.PagerDuty, s NoteStore, r Reporter, log *slog.Logger) *pageNotes {
	n := &pageNotes{held: NotesHeld(cfg), from: cfg.FromEmail, store: s, report: r,
		log: log.With("component", "pagerduty-notes"), now: time.Now}
	if n.held == "" {
		n.client = NewClient(cfg, httpclient.New(httpclient.Options{Logger: log}))
	}
	return n
}

// pageNote is a note a job composed for a page.
type pageNote struct {
	// content is the text, and marker what finds it again after an
	// ambiguous failure, instead of adding a second.
	content, marker string
	// about tells its report apart from the page's other notes.
	about       []string
	followUpKey string
}

// write adds to the page the note compose makes of the record, unless the
// page has it already, and reports it. A nil note says nothing is to be
// written.
func (n *pageNotes) write(ctx context.Context, incidentID int64, pageID string,
	compose func(ctx context.Context, rec *incident.Record) (*pageNote, error)) error {
	if !pagerDutyID.MatchString(pageID) {
		return river.JobCancel(fmt.Errorf("%q is not a PagerDuty incident id", pageID))
	}
	if n.client == nil {
		return actions.Hold(ctx, n.log, n.held, "incident", incident.FormatRef(incidentID), "page", pageID)
	}
	rec, err := n.store.Incident(ctx, incidentID)
	if err != nil {
		return err
	}
	note, err := compose(ctx, &rec)
	if err != nil || note == nil {
		return err
	}
	ctx, last := httpclient.WithLastResponse(ctx)
	err = addNote(ctx, n.client, n.from, pageID, note.content, note.marker)
	if err == nil {
		err = n.report.Report(ctx, hubevent.Report{
			Key:  hubevent.RecordKey(incident.EventNoteAdded, rec.ID, append([]string{pageID}, note.about...)...),
			Type: incident.EventNoteAdded, At: n.now().UTC(), IncidentID: rec.ID, PageID: pageID, FollowUpKey: note.followUpKey})
	}
	return classify(ctx, err, last)
}

// NoteWorker adds, once per page, a note linking the review doc, and one
// per follow-up linking its ticket.
type NoteWorker struct {
	river.WorkerDefaults[PageNoteArgs]
	notes *pageNotes
}

// NewClient returns a go-pagerduty client on the hub's HTTP client,
// pointed at base_url when set (a test server, or an EU account's API).
func NewClient(cfg config.PagerDuty, hc *http.Client) *pd.Client {
	var opts []pd.ClientOptions
	if cfg.BaseURL != "" {
		opts = append(opts, pd.WithAPIEndpoint(strings.TrimSuffix(cfg.BaseURL, "/")))
	}
	// go-pagerduty sets the token it was made with; the hub's transport
	// sets the token as it is now, so that a rotated secret file takes
	// effect at once.
	c := pd.NewClient(cfg.APIToken.Value(), opts...)
	token := cfg.APIToken
	c.HTTPClient = httpclient.Authorized(hc, func(h http.Header) { h.Set("Authorization", "Token token="+token.Value()) })
	return c
}

// NewNoteWorker returns the worker; without credentials it holds its jobs.
func NewNoteWorker(cfg config.PagerDuty, s NoteStore, r Reporter, log *slog.Logger) *NoteWorker {
	return &NoteWorker{notes: newPageNotes(cfg, s, r, log)}
}

// pagerDutyID matches PagerDuty object ids. Ids come from payloads and end
// up in API paths, so anything else is refused rather than sent.
var pagerDutyID = regexp.MustCompile(`^[A-Z0-9]{1,40}$`)

// note links the review doc (one per record) or, with followUpKey, a
// follow-up's ticket (one per follow-up).
func (w *NoteWorker) note(ctx context.Context, rec *incident.Record, followUpKey string) (*pageNote, error) {
	if followUpKey == "" {
		if rec.ReviewDoc == "" {
			return nil, river.JobCancel(fmt.Errorf("%s has no review doc to link", rec.Ref()))
		}
		marker := "[incidenthub " + rec.Ref() + "]"
		return &pageNote{content: fmt.Sprintf("Review doc for %s (%s): %s %s", rec.Ref(), rec.Title, rec.ReviewDoc, marker),
			marker: marker}, nil
	}
	f, err := w.notes.store.FollowUp(ctx, followUpKey)
	if err != nil {
		return nil, err
	}
	if !f.Filed() {
		return nil, river.JobCancel(fmt.Errorf("follow-up %s of %s has no ticket to link", f.Key, rec.Ref()))
	}
	marker := "[incidenthub " + rec.Ref() + " " + f.JiraKey + "]"
	return &pageNote{content: fmt.Sprintf("Follow-up of %s filed in Jira: %s %s (%s) %s", rec.Ref(), f.JiraKey,
		incident.ClipTitle(f.Title), f.JiraURL, marker), marker: marker, about: []string{followUpKey}, followUpKey: followUpKey}, nil
}

// Work adds the note unless the page already has it, and reports it.
func (w *NoteWorker) Work(ctx context.Context, job *river.Job[PageNoteArgs]) error {
	return w.notes.write(ctx, job.Args.IncidentID, job.Args.PageID, func(ctx context.Context, rec *incident.Record) (*pageNote, error) {
		return w.note(ctx, rec, job.Args.FollowUpKey)
	})
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
