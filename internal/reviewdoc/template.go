package reviewdoc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// RequiredSections are the hub's sections every template must have: the
// hub rewrites them as the record changes, posts them as a comment when
// it may not rewrite the doc, and lists follow-up tickets in the last.
var RequiredSections = []string{"overview", "timeline", "changes", "followups"}

// maxTemplateBytes bounds a template file: the doc it renders must fit
// within GitHub's limit on an issue body anyway.
const maxTemplateBytes = 64 << 10

// LoadTemplate reads an organisation's own template (review.template) and
// checks it as ParseTemplate does. Several problems come joined
// (errors.Join), one each.
func LoadTemplate(path string) (*Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(text) > maxTemplateBytes {
		return nil, fmt.Errorf("%s is over %d KiB", path, maxTemplateBytes>>10)
	}
	return ParseTemplate(filepath.Base(path), string(text))
}

// ParseTemplate checks a template by rendering a sample incident with it,
// so that a mistake shows when the configuration is checked rather than
// when an incident's review opens:
//   - a template error, with the template's own line (and column, for
//     errors found while rendering);
//   - a hub section whose markers are missing;
//   - text from vendors and people printed without an escaping helper
//     (md, mdrow, mermaid), which would let a page's title mention a team
//     or inject markdown into the doc.
func ParseTemplate(name, text string) (*Template, error) {
	t := newTemplate(name, text)
	doc, err := t.render(sampleInput(), listSizes[0])
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, s := range RequiredSections {
		if !hasSection(doc, s) {
			problems = append(problems, fmt.Errorf("the hub's %q section is missing: keep <!-- incidenthub:%s:start --> and <!-- incidenthub:%s:end --> around it", s, s, s))
		}
	}
	for _, c := range canaries {
		if strings.Contains(doc, c.text) {
			problems = append(problems, fmt.Errorf("%s is printed without escaping: write {{md %s}} (or mdrow in a table, mermaid in a diagram)", c.field, c.field))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return t, nil
}

func hasSection(doc, name string) bool {
	start := strings.Index(doc, "<!-- incidenthub:"+name+":start -->")
	return start >= 0 && strings.Contains(doc[start:], "<!-- incidenthub:"+name+":end -->")
}

// canaries are mentions put in the sample incident's untrusted text: an
// escaping helper breaks them (a zero-width space after "@"), so one
// found whole in the rendered sample was printed raw.
var canaries = []struct{ field, text string }{
	{".Title", "@canary-title"},
	{".Commander", "@canary-commander"},
	{".Responders", "@canary-responder"},
	{".Roles", "@canary-role"},
	{"a page's .Title", "@canary-page"},
	{"a timeline entry's .Summary", "@canary-entry"},
	{"a change's .Title", "@canary-change"},
	{"a follow-up's .Title", "@canary-followup"},
	{"an earlier incident's .Title", "@canary-earlier"},
}

func canary(field string) string {
	for _, c := range canaries {
		if c.field == field {
			return c.text
		}
	}
	panic("reviewdoc: no canary for " + field)
}

// sampleInput is an incident with something in every field a template
// may show, its untrusted text carrying canaries.
func sampleInput() Input {
	at := time.Date(2026, 4, 1, 2, 7, 0, 0, time.UTC)
	page := incident.Page{ID: "Q1", Number: 12, Title: canary("a page's .Title"), URL: "https://example.pagerduty.com/incidents/Q1",
		ServiceID: "PSVC", ServiceName: "Payments API", Status: incident.PageResolved, Urgency: "high", Priority: "P1",
		Severity: "SEV1", TriggeredAt: at, ResolvedAt: at.Add(time.Hour), SnapshotAt: at}
	rec := incident.Record{
		ID: 12, Title: canary(".Title"), Status: incident.StatusReviewing, Kind: incident.KindIncident, Severity: "SEV1",
		Service: "payments", CorrelationKey: "payments", Commander: canary(".Commander"), AckedBy: canary(".Commander"),
		CommanderAt: at.Add(2 * time.Minute), Responders: []string{canary(".Responders")},
		Roles:    []incident.Role{{ID: "R1", Name: "Scribe", Person: canary(".Roles"), Since: at.Add(3 * time.Minute)}},
		OpenedAt: at, AcknowledgedAt: at.Add(2 * time.Minute), ResolvedAt: at.Add(time.Hour),
		Pages:     []incident.Page{page},
		ReviewDue: at.Add(72 * time.Hour),
		Timeline: []incident.TimelineEntry{
			{At: at, Source: "pagerduty", Kind: incident.EntryPageTriggered, Summary: canary("a timeline entry's .Summary"), URL: page.URL, Key: "e1"},
			{At: at.Add(time.Hour), Source: "pagerduty", Kind: incident.EntryPageResolved, Summary: "Resolved", Key: "e2"},
		},
		Changes: []incident.Change{{Key: "c1", Service: "payments", Kind: incident.ChangeMerge, Repo: "acme/payments",
			Title: canary("a change's .Title"), Actor: "dev", URL: "https://github.com/acme/payments/pull/7", PRNumber: 7, At: at.Add(-20 * time.Minute)}},
		FollowUps: []incident.FollowUp{{Title: canary("a follow-up's .Title"), Status: incident.FollowUpOpen, JiraKey: "OPS-1",
			JiraURL: "https://acme.atlassian.net/browse/OPS-1", JiraStatus: "To Do"}},
	}
	earlier := rec
	earlier.ID, earlier.Title, earlier.OpenedAt = 9, canary("an earlier incident's .Title"), at.Add(-30*24*time.Hour)
	return Input{Record: rec, SeverityDescription: "Customers cannot pay", Playbook: "https://wiki.example.com/payments",
		Earlier: []incident.Record{earlier}, Due: rec.ReviewDue, Lookback: 2 * time.Hour}
}

// helpers are the functions a template may call, for the README and the
// test that keeps the two in step.
func helpers() []string {
	names := []string{}
	for name := range funcMap(&incident.Record{}) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
