// Package reviewdoc renders the blameless review doc of an incident as
// GitHub markdown, and splices the hub's sections into a doc that people
// have been editing, without touching what they wrote.
package reviewdoc

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
)

//go:embed review.md.tmpl
var builtinText string

// Template is what review docs are rendered from: the built-in template,
// or an organisation's own (review.template), with the same data and
// helpers.
type Template struct {
	name, text string
	// Version names the template's text (a hash); each doc records the
	// version it was opened with.
	Version string
}

var builtin = newTemplate("review.md.tmpl", builtinText)

// Builtin is the hub's own template.
func Builtin() *Template { return builtin }

func newTemplate(name, text string) *Template {
	sum := sha256.Sum256([]byte(text))
	return &Template{name: name, text: text, Version: hex.EncodeToString(sum[:6])}
}

// Input is what a review doc shows.
type Input struct {
	Record              incident.Record
	SeverityDescription string
	Playbook            string
	// Earlier are earlier incidents of the same service, newest first.
	Earlier []incident.Record
	// Due is when the review is due; zero when no review is asked for.
	Due time.Time
	// Lookback is correlation.change_lookback, named in the doc.
	Lookback time.Duration
}

// Title is the review issue's title: "INC-12: <title> — incident review",
// or "— drill debrief" for a drill.
func Title(r *incident.Record) string {
	what := "incident review"
	if r.Kind == incident.KindDrill {
		what = "drill debrief"
	}
	return fmt.Sprintf("%s: %s — %s", r.Ref(), escape.Title(escape.Truncate(r.Title, 180)), what)
}

// MaxBody is GitHub's limit on an issue or comment body, in characters;
// GitHub answers 422 to a longer one.
const MaxBody = 65536

// maxRendered bounds the doc the hub renders, leaving people room to
// write their part of the review within MaxBody.
const maxRendered = 48000

// TooLong reports whether GitHub would refuse body.
func TooLong(body string) bool { return utf8.RuneCountInString(body) > MaxBody }

// view is what the template reads.
type view struct {
	*incident.Record
	SeverityDescription, Playbook string
	Earlier                       []incident.Record
	Due                           time.Time
	Lookback                      time.Duration
	// The long lists, summarised to fit: a storm of pages makes a
	// timeline of hundreds of entries.
	ShownPages    shown[*incident.Page]
	ShownTimeline shown[incident.TimelineEntry]
	ShownDiagram  shown[incident.TimelineEntry]
	ShownChanges  shown[incident.Change]
	// ShownResponders keeps the first: a storm paging many people makes a
	// long list.
	ShownResponders shown[string]
	// CommanderByRole: the commander holds PagerDuty's commander role
	// rather than having acknowledged first.
	CommanderByRole bool
	HeldRoles       []incident.Role
	// IsDrill: the doc is a drill's debrief, with drill questions.
	IsDrill bool
}

// shown is a list as a doc shows it: its first and last items, and how
// many between them were left out.
type shown[T any] struct {
	Head, Tail []T
	Omitted    int
}

// summarise keeps at most keep items of all: two thirds from the start
// (how it began) and the rest from the end (how it ended).
func summarise[T any](all []T, keep int) shown[T] {
	if len(all) <= keep {
		return shown[T]{Head: all}
	}
	head := keep * 2 / 3
	tail := keep - head
	return shown[T]{Head: all[:head], Tail: all[len(all)-tail:], Omitted: len(all) - keep}
}

// listSizes are the rows each long list keeps, tried in turn until the
// doc fits maxRendered.
var listSizes = []int{60, 30, 12, 4, 0}

// diagramRows bounds the Mermaid timeline: beyond a few dozen periods it
// is unreadable, and the table below it has the rest.
const diagramRows = 24

// Render is the doc of the built-in template.
func Render(in Input) (string, error) { return builtin.Render(in) }

// Render returns the whole doc, within maxRendered characters: long lists
// (pages, timeline, changes) are summarised as their first and last rows
// and a count, as much as it takes. The doc ends with the template's
// version, outside the hub's sections: it stays what the doc was opened
// with, and a changed template rewrites only the hub's sections.
func (t *Template) Render(in Input) (string, error) {
	for _, keep := range listSizes {
		doc, err := t.render(in, keep)
		if err != nil {
			return "", fmt.Errorf("review of %s: %w", in.Record.Ref(), err)
		}
		if utf8.RuneCountInString(doc) <= maxRendered {
			return strings.TrimRight(doc, "\n") + "\n\n" + versionMarker(t.Version) + "\n", nil
		}
	}
	return "", fmt.Errorf("review of %s: over %d characters with every list summarised", in.Record.Ref(), maxRendered)
}

func versionMarker(v string) string { return "<!-- incidenthub:template " + v + " -->" }

var templateVersion = regexp.MustCompile(`<!-- incidenthub:template ([0-9a-f]+) -->`)

// TemplateVersion is the version of the template a doc was opened with,
// or "" for a doc opened before docs recorded it.
func TemplateVersion(doc string) string {
	if m := templateVersion.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return ""
}

func (t *Template) render(in Input, keep int) (string, error) {
	rec := in.Record
	if len(in.Earlier) > 5 {
		in.Earlier = in.Earlier[:5]
	}
	timeline := slices.Clone(rec.Timeline)
	slices.SortStableFunc(timeline, func(a, b incident.TimelineEntry) int { return a.At.Compare(b.At) })
	rec.Timeline = timeline
	funcs := funcMap(&rec)
	tmpl, err := template.New(t.name).Funcs(funcs).Option("missingkey=error").Parse(t.text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	held := rec.HeldRoles()
	if err := tmpl.Execute(&b, view{
		Record: &rec, SeverityDescription: in.SeverityDescription, Playbook: escape.URL(in.Playbook),
		Earlier: in.Earlier, Due: in.Due, Lookback: in.Lookback,
		ShownPages: summarise(rec.Pages, keep), ShownTimeline: summarise(rec.Timeline, keep),
		ShownDiagram: summarise(rec.Timeline, min(keep, diagramRows)), ShownChanges: summarise(rec.Changes, keep),
		ShownResponders: shown[string]{Head: rec.Responders[:min(len(rec.Responders), max(keep, 10))],
			Omitted: max(len(rec.Responders)-max(keep, 10), 0)},
		CommanderByRole: commanderByRole(&rec),
		IsDrill:         rec.Kind == incident.KindDrill,
		HeldRoles:       held[:min(len(held), maxRoles)],
	}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// funcMap are the helpers templates call; some read the record (when it
// opened).
func funcMap(rec *incident.Record) template.FuncMap {
	return template.FuncMap{
		"md":  func(s string) string { return escape.Markdown(escape.Truncate(s, 500)) },
		"url": escape.URL,
		// mdrow is text in a table row, of which there may be many.
		"mdrow": func(s string) string { return escape.Markdown(escape.Truncate(s, 200)) },
		"mermaid": func(s string) string {
			// Mermaid refuses a period with no text, which a summary made
			// only of what the escaper strips would leave.
			if m := strings.TrimSpace(escape.Mermaid(escape.Truncate(s, 80))); m != "" {
				return m
			}
			return "(no text)"
		},
		"stamp":    stamp,
		"day":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"human":    incident.ShortDuration,
		"summary":  func(c incident.Change) string { return escape.Markdown(escape.Truncate(c.Summary(), 200)) },
		"page":     func(p *incident.Page) string { return escape.Markdown(escape.Truncate(pageLabel(p), 120)) },
		"link":     link,
		"followup": func(f incident.FollowUp) string { return FollowUpRef(&f) },
		"after": func(from, t time.Time) string {
			if t.IsZero() {
				return "not yet"
			}
			return fmt.Sprintf("%s (%s after it opened)", stamp(t), incident.ShortDuration(t.Sub(from)))
		},
		"relative": func(t time.Time) string {
			if t.Before(rec.OpenedAt) {
				return incident.ShortDuration(rec.OpenedAt.Sub(t)) + " before it opened"
			}
			return incident.ShortDuration(t.Sub(rec.OpenedAt)) + " after it opened"
		},
		// moment labels a timeline period; Mermaid reads ":" as a
		// separator, so 13:10 is written 13h10, with the day when it
		// differs from the opening day.
		"moment": func(t time.Time) string {
			if t.UTC().Format("2006-01-02") != rec.OpenedAt.UTC().Format("2006-01-02") {
				return t.UTC().Format("Jan 2 15h04")
			}
			return t.UTC().Format("15h04")
		},
	}
}

// maxRoles bounds the roles a doc lists; PagerDuty accounts define a
// handful.
const maxRoles = 10

func commanderByRole(rec *incident.Record) bool {
	role, ok := rec.CommanderRole()
	return ok && role.Person == rec.Commander
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func pageLabel(p *incident.Page) string {
	if p.Number > 0 {
		return fmt.Sprintf("#%d %s", p.Number, p.Title)
	}
	return p.ID + " " + p.Title
}

// link renders escaped text as a link when the URL is a safe http(s) one.
func link(text, url string) string {
	if u := escape.URL(url); u != "" {
		return "[" + text + "](" + u + ")"
	}
	return text
}

// Summary is the short comment posted on the review issue when an
// incident resolves: severity, durations, and where things are.
func Summary(r *incident.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s resolved.** %s on %s", r.Ref(), escape.Markdown(r.Severity), escape.Markdown(r.Service))
	if !r.AcknowledgedAt.IsZero() {
		fmt.Fprintf(&b, "; acknowledged %s after it opened", incident.ShortDuration(r.AcknowledgedAt.Sub(r.OpenedAt)))
	}
	fmt.Fprintf(&b, "; resolved %s after it opened (%s).", incident.ShortDuration(r.ResolvedAt.Sub(r.OpenedAt)), stamp(r.ResolvedAt))
	if len(r.Pages) > 0 {
		b.WriteString(" Pages:")
		for _, p := range r.Pages {
			b.WriteString(" " + link(escape.Markdown(pageLabel(p)), p.URL))
		}
		b.WriteString(".")
	}
	b.WriteString("\n\nThe review doc above walks the timeline; add what you knew and when, and what surprised you.")
	return b.String()
}

// Sections returns the named hub sections of a rendered doc, in the order
// given, without their markers: what the hub posts as a comment when it
// may not rewrite the body.
func Sections(rendered string, names ...string) string {
	var parts []string
	for _, name := range names {
		for _, m := range section.FindAllStringSubmatch(rendered, -1) {
			if m[1] == name {
				inner := strings.TrimPrefix(m[0], "<!-- incidenthub:"+name+":start -->")
				parts = append(parts, strings.TrimSpace(strings.TrimSuffix(inner, "<!-- incidenthub:"+name+":end -->")))
			}
		}
	}
	return strings.Join(parts, "\n\n")
}

// ErrMarkersMissing is returned by Splice when people removed the markers
// of a hub section: the hub then comments instead of overwriting.
var ErrMarkersMissing = errors.New("the doc lacks the hub's section markers")

var section = regexp.MustCompile(`(?s)<!-- incidenthub:([a-z]+):start -->.*?<!-- incidenthub:([a-z]+):end -->`)

// Splice replaces the hub's sections of an edited doc with those of a
// fresh rendering. Text outside the sections is kept byte for byte.
func Splice(edited, rendered string) (string, error) {
	fresh := map[string]string{}
	for _, m := range section.FindAllStringSubmatch(rendered, -1) {
		fresh[m[1]] = m[0]
	}
	seen := map[string]bool{}
	out := section.ReplaceAllStringFunc(edited, func(old string) string {
		m := section.FindStringSubmatch(old)
		if m[1] != m[2] {
			return old // mismatched markers: leave people's text alone
		}
		seen[m[1]] = true
		if f, ok := fresh[m[1]]; ok {
			return f
		}
		return old
	})
	var missing []string
	for name := range fresh {
		switch {
		case seen[name]:
		case name == "followups":
			// Docs opened before the hub listed follow-ups lack the
			// section: it goes under their Follow-ups heading.
			out = insertFollowUps(out, fresh[name])
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return edited, fmt.Errorf("%w: %s", ErrMarkersMissing, strings.Join(missing, ", "))
	}
	return out, nil
}

// insertFollowUps puts the follow-ups section under the doc's Follow-ups
// heading, or under a new one at the end.
func insertFollowUps(doc, sectionText string) string {
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		if followUpsHeading.MatchString(strings.TrimSuffix(line, "\r")) {
			return strings.Join(slices.Insert(lines, i+1, "", sectionText), "\n")
		}
	}
	return strings.TrimRight(doc, "\n") + "\n\n## Follow-ups\n\n" + sectionText + "\n"
}
