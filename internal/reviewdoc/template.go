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
	// The sample as it is, a storm's (every long list summarised, at each
	// size the doc may fall back to) and an incident with nothing on its
	// lists: a template must work for all of them, keep the hub's
	// sections in each (a section inside {{if .Changes}} would vanish from
	// a doc opened before the first change, and the hub could no longer
	// update it), and escape everything in each.
	type sample struct {
		in   Input
		keep int
	}
	samples := []sample{{sampleInput(), listSizes[0]}, {emptyInput(), listSizes[0]}}
	for _, keep := range listSizes {
		samples = append(samples, sample{stormInput(), keep})
	}
	missing := map[string]bool{}
	raw := map[string]bool{}
	for _, sample := range samples {
		doc, err := t.render(sample.in, sample.keep)
		if err != nil {
			return nil, err
		}
		for _, s := range RequiredSections {
			missing[s] = missing[s] || !hasSection(doc, s)
		}
		for _, c := range canaries {
			raw[c.field] = raw[c.field] || strings.Contains(doc, c.text)
		}
	}
	var problems []error
	for _, s := range RequiredSections {
		if missing[s] {
			problems = append(problems, fmt.Errorf("the hub's %q section is missing (in every doc, whatever its lists hold): keep <!-- incidenthub:%s:start --> and <!-- incidenthub:%s:end --> around it, outside any if or range", s, s, s))
		}
	}
	for _, c := range canaries {
		if raw[c.field] {
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
	{"a page's .ServiceName", "@canary-pageservice"},
	{"a page's .Assignees", "@canary-assignee"},
	{"a role's .Name", "@canary-rolename"},
	{".SeveritySetBy", "@canary-severityby"},
	{"a change's .Actor", "@canary-actor"},
	{"a follow-up's .Owner", "@canary-owner"},
	{"a follow-up's .RequestedBy", "@canary-requester"},
	{"a follow-up's .JiraStatus", "@canary-jirastatus"},
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
		ServiceID: "PSVC", ServiceName: canary("a page's .ServiceName"), Status: incident.PageResolved, Urgency: "high", Priority: "P1",
		Severity: "SEV1", Assignees: []string{canary("a page's .Assignees")}, TriggeredAt: at, ResolvedAt: at.Add(time.Hour), SnapshotAt: at}
	rec := incident.Record{
		ID: 12, Title: canary(".Title"), Status: incident.StatusReviewing, Kind: incident.KindIncident, Severity: "SEV1",
		Service: "payments", CorrelationKey: "payments", Commander: canary(".Commander"), AckedBy: canary(".Commander"),
		CommanderAt: at.Add(2 * time.Minute), Responders: []string{canary(".Responders")},
		Roles:         []incident.Role{{ID: "R1", Name: canary("a role's .Name"), Person: canary(".Roles"), Since: at.Add(3 * time.Minute)}},
		SeveritySetBy: canary(".SeveritySetBy"),
		OpenedAt:      at, AcknowledgedAt: at.Add(2 * time.Minute), ResolvedAt: at.Add(time.Hour),
		Pages:     []*incident.Page{&page},
		ReviewDue: at.Add(72 * time.Hour),
		Timeline: []incident.TimelineEntry{
			{At: at, Source: "pagerduty", Kind: incident.EntryPageTriggered, Summary: canary("a timeline entry's .Summary"), URL: page.URL, Key: "e1"},
			{At: at.Add(time.Hour), Source: "pagerduty", Kind: incident.EntryPageResolved, Summary: "Resolved", Key: "e2"},
		},
		Changes: []incident.Change{{Key: "c1", Service: "payments", Kind: incident.ChangeMerge, Repo: "acme/payments",
			Title: canary("a change's .Title"), Actor: canary("a change's .Actor"), URL: "https://github.com/acme/payments/pull/7", PRNumber: 7, At: at.Add(-20 * time.Minute)}},
		FollowUps: []incident.FollowUp{{Title: canary("a follow-up's .Title"), Status: incident.FollowUpOpen, JiraKey: "OPS-1",
			JiraURL: "https://acme.atlassian.net/browse/OPS-1", JiraStatus: canary("a follow-up's .JiraStatus"),
			Owner: canary("a follow-up's .Owner"), RequestedBy: canary("a follow-up's .RequestedBy")}},
	}
	earlier := rec
	earlier.ID, earlier.Title, earlier.OpenedAt = 9, canary("an earlier incident's .Title"), at.Add(-30*24*time.Hour)
	return Input{Record: rec, SeverityDescription: "Customers cannot pay", Playbook: "https://wiki.example.com/payments",
		Earlier: []incident.Record{earlier}, Due: rec.ReviewDue, Lookback: 2 * time.Hour}
}

// emptyInput is an incident with nothing on its lists: no pages (an
// announced change), changes, timeline, responders, roles, follow-ups or
// earlier incidents.
func emptyInput() Input {
	in := sampleInput()
	r := &in.Record
	r.Pages, r.Timeline, r.Changes, r.FollowUps, r.Responders, r.Roles = nil, nil, nil, nil, nil, nil
	r.Commander, r.AckedBy, r.Kind = "", "", incident.KindAwareness
	in.Earlier, in.Playbook, in.SeverityDescription = nil, "", ""
	return in
}

// stormInput has every list long enough to be summarised, with canaries
// at both ends of each.
func stormInput() Input {
	in := sampleInput()
	r := &in.Record
	for range 2 * listSizes[0] {
		p := *r.Pages[0]
		p.ID = fmt.Sprintf("Q%d", len(r.Pages)+1)
		r.Pages = append(r.Pages, &p)
		e := r.Timeline[0]
		e.Key = fmt.Sprintf("e%d", len(r.Timeline)+1)
		r.Timeline = append(r.Timeline, e)
		c := r.Changes[0]
		c.Key = fmt.Sprintf("c%d", len(r.Changes)+1)
		r.Changes = append(r.Changes, c)
		r.Responders = append(r.Responders, r.Responders[0])
	}
	return in
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
