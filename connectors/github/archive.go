package github

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/riverqueue/river"
	"gopkg.in/yaml.v3"

	"github.com/incidenthub/incidenthub/internal/actions"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/hubevent"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

// ArchiveDir is where the incident database lives in the review repo.
const ArchiveDir = "reviews"

// ArchiveReviewArgs commits a closed review to the incident database.
type ArchiveReviewArgs struct {
	IncidentID int64 `json:"incident_id"`
}

// Kind implements river.JobArgs.
func (ArchiveReviewArgs) Kind() string { return "github.archive_review" }

// InsertOpts: not unique, as for the review doc: a record closed again
// while the last job still runs (it read the record already) must get a
// job of its own. The worker writes nothing that is there already.
func (ArchiveReviewArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: actions.MaxAttempts}
}

// File is a file in a repository as the contents API gives it.
type File struct {
	Content []byte
	SHA     string
	URL     string
}

// Contents reads and writes files of one repository through the contents
// API, on its default branch.
type Contents struct {
	client      *gh.Client
	owner, repo string
	gate        *WriteGate
}

// NewContents returns the adapter for "owner/name", writing through gate.
func NewContents(client *gh.Client, repo string, gate *WriteGate) *Contents {
	owner, name, _ := strings.Cut(repo, "/")
	return &Contents{client: client, owner: owner, repo: name, gate: gate}
}

// Get reads a file; nil when there is none.
func (c *Contents) Get(ctx context.Context, p string) (*File, error) {
	fc, _, resp, err := c.client.Repositories.GetContents(ctx, c.owner, c.repo, p, nil)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fc == nil {
		return nil, fmt.Errorf("%s is a directory, not a file", p)
	}
	text, err := fc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &File{Content: []byte(text), SHA: fc.GetSHA(), URL: fc.GetHTMLURL()}, nil
}

// ErrFileChanged is a write refused because the file is not the version
// it replaces: GitHub answers 409 when the sha is not the file's, 422
// ("sha" wasn't supplied) when a file came to be where none was. Read it
// again, and write again. Any other 422 (a path or content GitHub
// refuses) is final, and fails the job as such.
var ErrFileChanged = errors.New("the file changed since it was read")

// Put creates the file, or replaces the version sha names.
func (c *Contents) Put(ctx context.Context, p, message string, content []byte, sha string) (*File, error) {
	opts := &gh.RepositoryContentFileOptions{Message: &message, Content: content}
	if sha != "" {
		opts.SHA = &sha
	}
	var res *gh.RepositoryContentResponse
	err := c.gate.do(ctx, func() (err error) {
		res, _, err = c.client.Repositories.UpdateFile(ctx, c.owner, c.repo, p, opts)
		return err
	})
	var resp *gh.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil &&
		(resp.Response.StatusCode == http.StatusConflict ||
			resp.Response.StatusCode == http.StatusUnprocessableEntity && sha == "" && strings.Contains(resp.Message, `"sha"`)) {
		return nil, fmt.Errorf("%s: %w (GitHub: %s)", p, ErrFileChanged, resp.Message)
	}
	if err != nil {
		return nil, err
	}
	return &File{Content: content, SHA: res.Content.GetSHA(), URL: res.Content.GetHTMLURL()}, nil
}

// RepoFiles is what the archive worker needs of the review repo.
type RepoFiles interface {
	Get(ctx context.Context, path string) (*File, error)
	Put(ctx context.Context, path, message string, content []byte, sha string) (*File, error)
}

// ArchiveWorker keeps the incident database in the review repo: each
// closed review's final text as reviews/YYYY/INC-12-short-title.md, with
// front matter that makes past incidents searchable, and reviews/README.md
// listing them all. Writes are create-or-update by path and sha, and skipped
// when the file already says the same: a record that closes again updates
// its one file, and a job that runs twice commits nothing new.
type ArchiveWorker struct {
	river.WorkerDefaults[ArchiveReviewArgs]

	issues ReviewIssues // nil: held, for the reason in held
	files  RepoFiles
	held   string
	store  ReviewStore
	report Reporter
	log    *slog.Logger
	now    func() time.Time
}

// NewArchiveWorker returns the worker; it holds its jobs as the review
// worker does.
func NewArchiveWorker(issues ReviewIssues, files RepoFiles, s ReviewStore, r Reporter, log *slog.Logger) *ArchiveWorker {
	return &ArchiveWorker{issues: issues, files: files, held: heldWithout, store: s, report: r,
		log: log.With("component", "incident-database"), now: time.Now}
}

// Work commits the review and the index, and reports where it went.
func (w *ArchiveWorker) Work(ctx context.Context, job *river.Job[ArchiveReviewArgs]) error {
	if w.issues == nil {
		return actions.Hold(ctx, w.log, w.held, "incident", incident.FormatRef(job.Args.IncidentID))
	}
	rec, err := w.store.Incident(ctx, job.Args.IncidentID)
	if err != nil {
		return err
	}
	if rec.Status != incident.StatusClosed || rec.ReviewDocNumber == 0 || rec.Kind == incident.KindDrill {
		return nil // reopened since: it is archived when it closes again
	}
	issue, err := w.issues.Get(ctx, rec.ReviewDocNumber)
	if err != nil {
		return classify(ctx, err)
	}
	p := rec.Archived
	if p == "" {
		p = ArchivePath(&rec)
	}
	text, err := ArchiveText(&rec, issue.Body, issue.URL)
	if err != nil {
		return river.JobCancel(err)
	}
	file, err := w.put(ctx, p, fmt.Sprintf("%s: %s review", rec.Ref(), closedOrUpdated(rec.Archived)), text)
	if err == nil {
		err = w.index(ctx, &rec, p)
	}
	if errors.Is(err, ErrFileChanged) {
		// Another writer (a second replica, a person) got there first:
		// the next attempt reads what is there now.
		return err
	}
	if err != nil {
		return classify(ctx, err)
	}
	sum := sha256.Sum256(text)
	err = w.report.Report(ctx, hubevent.Report{
		Key:  hubevent.RecordKey(incident.EventReviewArchived, rec.ID, hex.EncodeToString(sum[:6])),
		Type: incident.EventReviewArchived, At: w.now().UTC(), IncidentID: rec.ID, Target: p, URL: file.URL,
		Learned: reviewdoc.Learned(issue.Body),
	})
	if err == nil {
		w.log.Info("review committed to the incident database", "incident", rec.Ref(), "path", p)
	}
	return err
}

func closedOrUpdated(archived string) string {
	if archived == "" {
		return "add the closed"
	}
	return "update the"
}

// put writes content at p unless it is there already.
func (w *ArchiveWorker) put(ctx context.Context, p, message string, content []byte) (*File, error) {
	old, err := w.files.Get(ctx, p)
	if err != nil {
		return nil, err
	}
	return w.replace(ctx, p, message, content, old)
}

// replace writes content at p over old (nil: no file yet), by old's sha,
// unless old says the same already.
func (w *ArchiveWorker) replace(ctx context.Context, p, message string, content []byte, old *File) (*File, error) {
	if old != nil && bytes.Equal(old.Content, content) {
		return old, nil
	}
	var sha string
	if old != nil {
		sha = old.SHA
	}
	return w.files.Put(ctx, p, message, content, sha)
}

// maxIndexed bounds the index, so that it stays well within what the
// contents API reads (1 MB): the newest reviews, and a line that says
// where the rest are.
const maxIndexed = 1000

// indexRow finds the rows of the index, by incident number.
var indexRow = regexp.MustCompile(`(?m)^\| \[INC-(\d+)\]\(.*$`)

// index adds or updates rec's row (its file at p) in reviews/README.md.
// The rows come from the file itself, not from the store: another job's
// review may be committed and not yet recorded, and its row must stay.
func (w *ArchiveWorker) index(ctx context.Context, rec *incident.Record, p string) error {
	file := path.Join(ArchiveDir, "README.md")
	old, err := w.files.Get(ctx, file)
	if err != nil {
		return err
	}
	rows := map[int64]string{}
	if old != nil {
		for _, m := range indexRow.FindAllStringSubmatch(string(old.Content), -1) {
			if id, err := strconv.ParseInt(m[1], 10, 64); err == nil {
				rows[id] = m[0]
			}
		}
	}
	r := *rec
	r.Archived = p
	rows[rec.ID] = IndexRow(&r)
	_, err = w.replace(ctx, file, "Incident database: index", ArchiveIndex(rows), old)
	return err
}

// ArchivePath is where a closed review goes: reviews/YYYY/INC-12-short-title.md,
// by the year it opened.
func ArchivePath(rec *incident.Record) string {
	name := rec.Ref()
	if s := escape.Slug(rec.Title, maxSlug); s != "" {
		name += "-" + s
	}
	return path.Join(ArchiveDir, rec.OpenedAt.UTC().Format("2006"), name+".md")
}

// maxSlug keeps file names short enough to read in a listing.
const maxSlug = 48

// frontMatter is what makes a review searchable: the facts of the
// incident, in YAML that GitHub shows as a table above the text.
type frontMatter struct {
	Incident          string     `yaml:"incident"`
	Title             string     `yaml:"title"`
	Service           string     `yaml:"service"`
	Severity          string     `yaml:"severity"`
	OpenedAt          string     `yaml:"opened_at"`
	AcknowledgedAt    string     `yaml:"acknowledged_at,omitempty"`
	ResolvedAt        string     `yaml:"resolved_at,omitempty"`
	ClosedAt          string     `yaml:"closed_at,omitempty"`
	TimeToAcknowledge string     `yaml:"time_to_acknowledge,omitempty"`
	TimeToResolve     string     `yaml:"time_to_resolve,omitempty"`
	Pages             int        `yaml:"pages"`
	Review            string     `yaml:"review,omitempty"`
	Changes           []string   `yaml:"changes,omitempty"`
	FollowUps         []followUp `yaml:"follow_ups,omitempty"`
}

type followUp struct {
	Title  string `yaml:"title"`
	Ticket string `yaml:"ticket,omitempty"`
	Status string `yaml:"status"`
}

// ArchiveText is the file of a closed review: front matter, then the
// review's final text as people left it.
func ArchiveText(rec *incident.Record, body, reviewURL string) ([]byte, error) {
	// People's text goes in the front matter on one line, with no control
	// or bidi characters: GitHub shows it as a table, as typed.
	fm := frontMatter{
		Incident: rec.Ref(), Title: escape.OneLine(rec.Title), Service: rec.Service, Severity: rec.Severity,
		OpenedAt: stamp(rec.OpenedAt), AcknowledgedAt: stamp(rec.AcknowledgedAt), ResolvedAt: stamp(rec.ResolvedAt),
		ClosedAt: stamp(closedAt(rec)), Pages: len(rec.Pages), Review: reviewURL,
	}
	if !rec.AcknowledgedAt.IsZero() {
		fm.TimeToAcknowledge = rec.AcknowledgedAt.Sub(rec.OpenedAt).Round(time.Second).String()
	}
	if !rec.ResolvedAt.IsZero() {
		fm.TimeToResolve = rec.ResolvedAt.Sub(rec.OpenedAt).Round(time.Second).String()
	}
	for _, c := range rec.Changes {
		fm.Changes = append(fm.Changes, escape.OneLine(c.Summary()))
	}
	for _, f := range rec.FollowUps {
		fm.FollowUps = append(fm.FollowUps, followUp{Title: escape.OneLine(f.Title), Ticket: escape.OneLine(f.JiraKey), Status: string(f.Status)})
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(fm); err != nil {
		return nil, fmt.Errorf("%s front matter: %w", rec.Ref(), err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	b.WriteString("---\n\n")
	fmt.Fprintf(&b, "# %s: %s\n\n", rec.Ref(), escape.Markdown(rec.Title))
	b.WriteString(strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n")))
	b.WriteString("\n")
	return b.Bytes(), nil
}

// closedAt is when the review last closed, by the record's timeline.
func closedAt(rec *incident.Record) time.Time {
	var t time.Time
	for _, e := range rec.Timeline {
		if e.Kind == incident.EntryReviewClosed && e.At.After(t) {
			t = e.At
		}
	}
	return t
}

// ArchiveIndex is reviews/README.md from its rows by incident number:
// newest first, at most maxIndexed.
func ArchiveIndex(rows map[int64]string) []byte {
	ids := slices.Sorted(maps.Keys(rows))
	slices.Reverse(ids)
	var b bytes.Buffer
	b.WriteString("# Incident database\n\n")
	b.WriteString("Closed incident reviews, committed by incidenthub when each review closes. ")
	b.WriteString("Each file starts with front matter (service, severity, dates, durations, changes, follow-ups): ")
	b.WriteString("search the repository for a service or a severity to find them.\n\n")
	b.WriteString("| Incident | Opened | Service | Severity | Title |\n|---|---|---|---|---|\n")
	for _, id := range ids[:min(len(ids), maxIndexed)] {
		b.WriteString(rows[id])
		b.WriteByte('\n')
	}
	if len(ids) > maxIndexed {
		fmt.Fprintf(&b, "\nThe newest %d are listed; the folders by year hold them all.\n", maxIndexed)
	}
	return b.Bytes()
}

// IndexRow is a record's row in the index.
func IndexRow(r *incident.Record) string {
	rel := strings.TrimPrefix(r.Archived, ArchiveDir+"/")
	return fmt.Sprintf("| [%s](%s) | %s | %s | %s | %s |", r.Ref(), rel, r.OpenedAt.UTC().Format("2006-01-02"),
		cell(r.Service), cell(r.Severity), cell(r.Title))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// cell is untrusted text in a table cell of the index.
func cell(s string) string { return escape.Markdown(escape.Truncate(s, 120)) }
