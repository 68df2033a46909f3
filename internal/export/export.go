// Package export writes closed reviews for sharing beyond the team: a
// markdown digest, the hub's JSON, or the fields the VOID (the Verica Open
// Incident Database) collects. People are never in it: every name, login
// and email the records or the configuration know is replaced by a
// pseudonym that stays the same for a person (NewRedactorFrom), and
// any other email or @mention left in free text is blanked.
package export

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	pathpkg "path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Options say what the export is for.
type Options struct {
	// Severities describe the impact (VOID's impact).
	Severities []config.Severity
	// People are the configuration's people: their names, emails and
	// logins are redacted wherever they appear.
	People config.People
	// Redactor pseudonymises them (NewRedactorFrom, with the numbers
	// earlier exports gave); nil numbers the exported records' people
	// from 1.
	Redactor *Redactor
}

// Redactor replaces people with pseudonyms.
type Redactor struct {
	// names maps each known spelling of a person (lower case) to their
	// pseudonym; order is the spellings longest first, so that "Ana
	// Ortiz" is replaced before "Ana".
	names map[string]string
	order []string
	// given are the numbers of earlier exports, by spelling, which their
	// people keep; added are those this one gave; next is the last given.
	given, added map[string]int
	next         int
}

// NewRedactor knows the people of recs (oldest first decides the
// numbering) and of the configuration.
func NewRedactor(recs []incident.Record, people config.People) *Redactor {
	r, _ := NewRedactorFrom(recs, people, nil)
	return r
}

// NewRedactorFrom is NewRedactor for people some of whom have numbers
// already (given: a spelling, lower case, to its number): they keep them,
// under every spelling, and the others get the numbers after the highest.
// Every given spelling is redacted, named in recs or not. It returns the
// numbers it gave, to be kept with the others, so that a person is the
// same Person N in every export.
func NewRedactorFrom(recs []incident.Record, people config.People, given map[string]int) (*Redactor, map[string]int) {
	r := &Redactor{names: map[string]string{}, given: given, added: map[string]int{}}
	for _, n := range given {
		r.next = max(r.next, n)
	}
	// A configured person known before keeps their number under the
	// spellings the configuration adds, whichever the records use first.
	for _, p := range people {
		if spellings := spellingsOf(p); slices.ContainsFunc(spellings, func(s string) bool { _, ok := given[key(s)]; return ok }) {
			r.person(spellings...)
		}
	}
	for _, rec := range recs {
		r.person(rec.Commander)
		r.person(rec.AckedBy)
		for _, p := range rec.Responders {
			r.person(p)
		}
		for _, role := range rec.Roles {
			r.person(role.Person)
		}
		for _, f := range rec.FollowUps {
			// Three people, or one more than once: never one known by
			// three names.
			r.person(f.RequestedBy)
			r.person(f.Assignee)
			r.person(f.Owner)
		}
		for _, c := range rec.Changes {
			r.person(c.Actor)
		}
		for _, p := range rec.Pages {
			for _, a := range p.Assignees {
				r.person(a)
			}
		}
		for _, e := range rec.Timeline {
			for _, name := range namedIn(e.Summary) {
				r.person(name)
			}
		}
	}
	for _, p := range people {
		r.person(spellingsOf(p)...)
	}
	// Earlier exports' people this one does not name: their names may
	// still be in its free text.
	for _, spelling := range slices.Sorted(maps.Keys(given)) {
		if _, ok := r.names[spelling]; !ok && len(spelling) >= 2 {
			r.names[spelling] = fmt.Sprintf("Person %d", given[spelling])
			r.order = append(r.order, spelling)
		}
	}
	slices.SortFunc(r.order, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
	return r, r.added
}

// spellingsOf are the names a configured person is known by.
func spellingsOf(p config.Person) []string {
	return []string{p.Name, p.PagerDutyEmail, p.GitHub, p.JiraUsername, p.JiraAccountID}
}

// key is how a spelling of a person is matched: any case, no @.
func key(s string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@")) }

// person gives one person, known by any of spellings, one pseudonym: the
// one a spelling was given by an earlier export, or in this one, or the
// next number. A spelling keeps the number it has.
func (r *Redactor) person(spellings ...string) {
	number := 0
	for _, s := range spellings {
		if n, ok := r.given[key(s)]; ok {
			number = n
			break
		}
	}
	for _, s := range spellings {
		if p, ok := r.names[key(s)]; ok && number == 0 {
			number = pseudonymNumber(p)
		}
	}
	for _, s := range spellings {
		key := key(s)
		if len(key) < 2 {
			continue // a one-letter "name" would blank every such letter
		}
		if _, ok := r.names[key]; ok {
			continue
		}
		if number == 0 {
			r.next++
			number = r.next
		}
		r.names[key] = fmt.Sprintf("Person %d", number)
		r.order = append(r.order, key)
		if _, ok := r.given[key]; !ok {
			r.added[key] = number
		}
	}
}

// pseudonymNumber is N of "Person N".
func pseudonymNumber(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(p, "Person "))
	return n
}

// The people the hub's own timeline phrasing names, in the part of a
// summary before its first ": " (what follows is someone's text): "Note
// by Ana Ortiz on #5", "#5 reassigned to Bo, Cy by Dee", "Incident
// Commander unassigned on #5 (was Eve)", "Fay asked to respond to #5".
// Record fields keep only the latest of these; the timeline keeps them all.
var (
	byActor      = regexp.MustCompile(` by (.+?)(?: on |;|$)`)
	toAssignees  = regexp.MustCompile(` (?:reassigned|escalated) to (.+?)(?: by |$)`)
	wasHolder    = regexp.MustCompile(`\(was (.+?)\)`)
	askedToHelp  = regexp.MustCompile(`^(.+?) asked to respond to `)
	holdsRole    = regexp.MustCompile(`^(.+?) is .+ on #`)
	peoplePhrase = []*regexp.Regexp{byActor, toAssignees, wasHolder, askedToHelp, holdsRole}
)

// namedIn returns the people a timeline summary names by the hub's own
// phrasing.
func namedIn(summary string) []string {
	prefix, _, _ := strings.Cut(summary, ": ")
	var out []string
	for _, re := range peoplePhrase {
		for _, m := range re.FindAllStringSubmatch(prefix, -1) {
			for _, name := range strings.Split(m[1], ", ") {
				if name = strings.TrimSpace(name); name != "" && name != "nobody" {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

var (
	emails   = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	mentions = regexp.MustCompile(`(^|[^A-Za-z0-9_])@[A-Za-z0-9][A-Za-z0-9\-]*(/[A-Za-z0-9][A-Za-z0-9\-]*)?`)
)

// Text redacts free text: emails first (whole, so that no part of one
// is left), then known people (whole words, any case), then any @mention
// left.
func (r *Redactor) Text(s string) string {
	s = emails.ReplaceAllString(s, "[email]")
	for _, name := range r.order {
		// A mention of someone known is their pseudonym, @ and all.
		s = replaceWord(s, "@"+name, r.names[name])
		s = replaceWord(s, name, r.names[name])
	}
	return mentions.ReplaceAllString(s, "${1}[someone]")
}

// Name is the pseudonym of one person; "" stays "".
func (r *Redactor) Name(s string) string {
	if s == "" {
		return ""
	}
	if p, ok := r.names[key(s)]; ok {
		return p
	}
	return r.Text(s)
}

// path is a path in the incident database (p) when its file name, a slug
// of the title the review was archived under, names nobody the export
// knows; otherwise it is left out, since a rewritten path would lead
// nowhere. A slug keeps only ASCII letters and digits ("Zoë Walsh" is
// "zo-walsh", "O'Brien" "o-brien"), so a name is looked for as its slug
// too, and a title that names somebody now may have named them then.
func (r *Redactor) path(p, title string) string {
	if p == "" || r.Text(title) != title {
		return ""
	}
	name := "-" + strings.ToLower(strings.TrimSuffix(pathpkg.Base(p), ".md")) + "-"
	for _, known := range r.order {
		if s := escape.Slug(known, len(known)); len(s) >= 2 && strings.Contains(name, "-"+s+"-") {
			return ""
		}
	}
	return p
}

// replaceWord replaces name wherever it stands as a word of s, in any
// case: "Ana" in "Ana's" is replaced, in "Banana" it is not. It compares
// rune by rune (Unicode simple folding), since lower-casing may change a
// string's length in bytes.
func replaceWord(s, name, with string) string {
	var b strings.Builder
	prev := rune(-1)
	for i := 0; i < len(s); {
		if n, ok := foldPrefix(s[i:], name); ok && !wordRune(prev) {
			next, _ := utf8.DecodeRuneInString(s[i+n:])
			if i+n == len(s) || !wordRune(next) {
				b.WriteString(with)
				i += n
				prev = ' '
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		prev = r
		i += size
	}
	return b.String()
}

// foldPrefix reports whether s starts with name in any case, and how many
// bytes of s that is.
func foldPrefix(s, name string) (int, bool) {
	n := 0
	for _, want := range name {
		got, size := utf8.DecodeRuneInString(s[n:])
		if size == 0 || !equalFold(got, want) {
			return 0, false
		}
		n += size
	}
	return n, true
}

func equalFold(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// wordRune is a rune that continues a word; -1 (no rune) does not.
func wordRune(r rune) bool {
	return r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

// Review is a closed review as exported.
type Review struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Service     string     `json:"service"`
	Severity    string     `json:"severity"`
	OpenedAt    time.Time  `json:"opened_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	TTASeconds  float64    `json:"time_to_acknowledge_seconds,omitempty"`
	TTRSeconds  float64    `json:"time_to_resolve_seconds,omitempty"`
	Pages       int        `json:"pages"`
	Commander   string     `json:"commander,omitempty"`
	Responders  []string   `json:"responders"`
	ReviewURL   string     `json:"review_url,omitempty"`
	ArchivePath string     `json:"archive_path,omitempty"`
	Learned     []string   `json:"learned,omitempty"`
	Timeline    []Entry    `json:"timeline"`
	Changes     []string   `json:"changes"`
	FollowUps   []FollowUp `json:"follow_ups"`
	// Impact says what it meant: the severity as the team defines it, the
	// service, and how long.
	Impact string `json:"impact"`
}

// Entry is a timeline entry, redacted.
type Entry struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
}

// FollowUp is a follow-up, redacted.
type FollowUp struct {
	Title  string `json:"title"`
	Ticket string `json:"ticket,omitempty"`
	Status string `json:"status"`
}

// Reviews are recs (closed records, with timelines, changes and
// follow-ups) redacted for export, oldest first.
func Reviews(recs []incident.Record, o Options) []Review {
	recs = slices.Clone(recs)
	slices.SortFunc(recs, func(a, b incident.Record) int { return cmp.Compare(a.ID, b.ID) })
	red := o.Redactor
	if red == nil {
		red = NewRedactor(recs, o.People)
	}
	out := make([]Review, 0, len(recs))
	for _, r := range recs {
		v := Review{ID: r.Ref(), Title: red.Text(r.Title), Service: r.Service, Severity: r.Severity, OpenedAt: r.OpenedAt.UTC(),
			Pages: len(r.Pages), Commander: red.Name(r.Commander), Responders: []string{}, ReviewURL: r.ReviewDoc,
			ArchivePath: red.path(r.Archived, r.Title), Learned: r.Learned, Timeline: []Entry{}, Changes: []string{}, FollowUps: []FollowUp{}}
		if !r.ResolvedAt.IsZero() {
			t := r.ResolvedAt.UTC()
			v.ResolvedAt, v.TTRSeconds = &t, r.ResolvedAt.Sub(r.OpenedAt).Seconds()
		}
		if !r.AcknowledgedAt.IsZero() {
			v.TTASeconds = r.AcknowledgedAt.Sub(r.OpenedAt).Seconds()
		}
		for _, p := range r.Responders {
			v.Responders = append(v.Responders, red.Name(p))
		}
		for _, e := range r.Timeline {
			v.Timeline = append(v.Timeline, Entry{At: e.At.UTC(), Kind: e.Kind, Summary: red.Text(e.Summary)})
		}
		for _, c := range r.Changes {
			v.Changes = append(v.Changes, red.Text(c.Summary()))
		}
		for _, f := range r.FollowUps {
			v.FollowUps = append(v.FollowUps, FollowUp{Title: red.Text(f.Title), Ticket: f.JiraKey, Status: string(f.Status)})
		}
		v.Impact = impact(&r, o.Severities)
		out = append(out, v)
	}
	return out
}

// impact says what the incident meant, from what the hub knows: its
// severity as the team defines it, the service, and how long.
func impact(r *incident.Record, severities []config.Severity) string {
	s := r.Severity
	for _, sev := range severities {
		if sev.Name == r.Severity && sev.Description != "" {
			s += " (" + sev.Description + ")"
		}
	}
	s += " on " + r.Service
	if !r.ResolvedAt.IsZero() {
		s += ", resolved in " + span(r.ResolvedAt.Sub(r.OpenedAt))
	}
	return s
}

// span is a duration to the minute, as people write it: 50m, 3h, 3h10m.
func span(d time.Duration) string {
	out := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// JSON writes the reviews as {"reviews": [...]}.
func JSON(w io.Writer, reviews []Review) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Reviews []Review `json:"reviews"`
	}{reviews})
}

// VOIDIncident has the fields the VOID collects for an incident report.
type VOIDIncident struct {
	Organization    string   `json:"organization"`
	Title           string   `json:"title"`
	Date            string   `json:"date"`
	StartedAt       string   `json:"started_at"`
	EndedAt         string   `json:"ended_at,omitempty"`
	DurationMinutes float64  `json:"duration_minutes,omitempty"`
	Impact          string   `json:"impact"`
	Severity        string   `json:"severity"`
	Services        []string `json:"services"`
	ReportURL       string   `json:"report_url,omitempty"`
	ReportFormat    string   `json:"report_format"`
}

// VOID writes the reviews as the VOID's fields, for organisation:
// {"incidents": [...]}.
func VOID(w io.Writer, reviews []Review, organisation string) error {
	out := make([]VOIDIncident, 0, len(reviews))
	for _, v := range reviews {
		i := VOIDIncident{Organization: organisation, Title: v.Title, Date: v.OpenedAt.Format(time.DateOnly),
			StartedAt: v.OpenedAt.Format(time.RFC3339), Impact: v.Impact, Severity: v.Severity, Services: []string{v.Service},
			ReportURL: v.ReviewURL, ReportFormat: "blameless review (incidenthub)"}
		if v.ResolvedAt != nil {
			i.EndedAt, i.DurationMinutes = v.ResolvedAt.Format(time.RFC3339), v.ResolvedAt.Sub(v.OpenedAt).Round(time.Minute).Minutes()
		}
		out = append(out, i)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Incidents []VOIDIncident `json:"incidents"`
	}{out})
}

// Markdown writes the reviews as one document.
func Markdown(w io.Writer, reviews []Review) error {
	var b strings.Builder
	b.WriteString("# Incident reviews\n\nExported by incidenthub; people are pseudonymised.\n")
	for _, v := range reviews {
		fmt.Fprintf(&b, "\n## %s: %s\n\n", v.ID, v.Title)
		fmt.Fprintf(&b, "- Service: %s\n- Severity: %s\n- Impact: %s\n- Opened: %s\n", v.Service, v.Severity, v.Impact, v.OpenedAt.Format(time.RFC3339))
		if v.Commander != "" {
			fmt.Fprintf(&b, "- Incident commander: %s\n", v.Commander)
		}
		if len(v.Responders) > 0 {
			fmt.Fprintf(&b, "- Responders: %s\n", strings.Join(v.Responders, ", "))
		}
		if v.ReviewURL != "" {
			fmt.Fprintf(&b, "- Review: %s\n", v.ReviewURL)
		}
		b.WriteString("\n### Timeline\n\n")
		for _, e := range v.Timeline {
			fmt.Fprintf(&b, "- %s %s\n", e.At.Format("2006-01-02 15:04Z"), e.Summary)
		}
		if len(v.Changes) > 0 {
			b.WriteString("\n### Changes\n\n")
			for _, c := range v.Changes {
				fmt.Fprintf(&b, "- %s\n", c)
			}
		}
		if len(v.FollowUps) > 0 {
			b.WriteString("\n### Follow-ups\n\n")
			for _, f := range v.FollowUps {
				fmt.Fprintf(&b, "- %s (%s)\n", f.Title, strings.ReplaceAll(f.Status, "_", " "))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
