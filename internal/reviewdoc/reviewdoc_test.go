package reviewdoc_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

// UPDATE_GOLDEN=1 rewrites the golden files from the current output.
var update = os.Getenv("UPDATE_GOLDEN") == "1"

func at(hhmm string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2021-06-04 "+hhmm)
	if err != nil {
		panic(err)
	}
	return t
}

// realistic is a SEV2 on payments: a deploy 25 minutes before the page, a
// fix deploy while it was open, notes and a status update.
func realistic() reviewdoc.Input {
	deploy := incident.Change{Key: "github:deployment:acme/payments:1", Service: "payments", Kind: incident.ChangeDeploy,
		Repo: "acme/payments", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Environment: "production",
		State: "success", Actor: "Codertocat", URL: "https://github.com/acme/payments/deployments", At: at("13:10")}
	fix := deploy
	fix.Key, fix.SHA, fix.At = "github:deployment:acme/payments:2", "a1b2c3d4e5f6", at("13:52")
	merge := incident.Change{Key: "github:pull:acme/payments:88", Service: "payments", Kind: incident.ChangeMerge,
		Repo: "acme/payments", PRNumber: 88, Title: "Revert connection pool change", Actor: "ana",
		URL: "https://github.com/acme/payments/pull/88", At: at("13:45")}
	return reviewdoc.Input{
		Record: incident.Record{
			ID: 12, Title: "Checkout API high latency", Status: incident.StatusResolved, Kind: incident.KindIncident,
			Severity: "SEV2", Service: "payments", Commander: "Harsh Santwani",
			Responders: []string{"Harsh Santwani", "Ana Ortiz"},
			OpenedAt:   at("13:35"), AcknowledgedAt: at("13:41"), ResolvedAt: at("14:20"),
			Pages: []*incident.Page{
				{ID: "Q3B15VLMF3ASBD", Number: 5, Title: "Checkout API high latency", URL: "https://acme.pagerduty.com/incidents/Q3B15VLMF3ASBD"},
				{ID: "Q05XJA8GDXGOB3", Number: 6, Title: "Payments error rate", URL: "https://acme.pagerduty.com/incidents/Q05XJA8GDXGOB3"},
			},
			Changes: []incident.Change{deploy, merge, fix},
			FollowUps: []incident.FollowUp{
				{Title: "Alert on connection pool saturation per cluster", Status: incident.FollowUpDone, JiraKey: "PAY-41", JiraURL: "https://acme.atlassian.net/browse/PAY-41", JiraStatus: "Done"},
				{Title: "Pair on the pool code", Status: incident.FollowUpInProgress, JiraKey: "PAY-42", JiraURL: "https://acme.atlassian.net/browse/PAY-42", JiraStatus: "In Progress"},
				{Title: "Load-test the reporting service", Status: incident.FollowUpWontDo, JiraKey: "PAY-43", JiraURL: "https://acme.atlassian.net/browse/PAY-43", JiraStatus: "Won't Do"},
				{Title: "Document the KILL runbook", Status: incident.FollowUpOpen},
			},
			Timeline: []incident.TimelineEntry{
				{At: at("13:35"), Source: "pagerduty", Kind: incident.EntryPageTriggered, Summary: "#5 triggered on Checkout: Checkout API high latency (priority P2, high urgency)", URL: "https://acme.pagerduty.com/incidents/Q3B15VLMF3ASBD"},
				{At: at("13:10"), Source: "github", Kind: incident.EntryChange, Summary: "Deploy of acme/payments@f95f852 to production: success by Codertocat", URL: "https://github.com/acme/payments/deployments"},
				{At: at("13:38"), Source: "pagerduty", Kind: incident.EntryPageTriggered, Summary: "#6 triggered on Payments: Payments error rate (priority P3)"},
				{At: at("13:41"), Source: "pagerduty", Kind: incident.EntryPageAcknowledged, Summary: "#5 acknowledged by Harsh Santwani"},
				{At: at("13:44"), Source: "pagerduty", Kind: incident.EntryNote, Summary: "Note by Harsh Santwani on #5: Running KILL on long-running queries from the reporting-service."},
				{At: at("13:45"), Source: "github", Kind: incident.EntryChange, Summary: "Merged acme/payments#88: Revert connection pool change by ana", URL: "https://github.com/acme/payments/pull/88"},
				{At: at("13:52"), Source: "github", Kind: incident.EntryChange, Summary: "Deploy of acme/payments@a1b2c3d to production: success by Codertocat"},
				{At: at("14:20"), Source: "pagerduty", Kind: incident.EntryPageResolved, Summary: "#5 resolved by Harsh Santwani"},
				{At: at("14:20"), Source: "pagerduty", Kind: incident.EntryStatusChanged, Summary: "Status acknowledged → resolved"},
			},
		},
		SeverityDescription: "Major degradation, or an outage for some customers.",
		Playbook:            "https://wiki.example.com/playbooks/payments",
		Earlier: []incident.Record{
			{ID: 9, Title: "Card declines spike", Severity: "SEV3", OpenedAt: time.Date(2021, 5, 20, 9, 0, 0, 0, time.UTC)},
			{ID: 4, Title: "Ledger replication lag", Severity: "SEV2", OpenedAt: time.Date(2021, 4, 2, 22, 15, 0, 0, time.UTC)},
		},
		Due:      at("14:20").Add(12*time.Hour + 48*time.Hour),
		Lookback: 2 * time.Hour,
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with UPDATE_GOLDEN=1 to create it")
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Fatalf("%s differs (-want +got):\n%s", name, diff)
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	doc, err := reviewdoc.Render(realistic())
	require.NoError(t, err)
	golden(t, "review.golden.md", doc)
	rec := realistic().Record
	require.Equal(t, "INC-12: Checkout API high latency — incident review", reviewdoc.Title(&rec))
}

func TestRenderWithoutChangesOrPlaybook(t *testing.T) {
	t.Parallel()
	in := realistic()
	in.Record.Changes, in.Playbook, in.Earlier = nil, "", nil
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	require.Contains(t, doc, "_No deploys, merges or releases of payments within 2h before it opened, or while it was open._")
	require.Contains(t, doc, "_No playbook is configured for payments")
	require.Contains(t, doc, "_None recorded before this one._")
}

// People's text is kept byte for byte; the hub's sections follow the record.
func TestSplice(t *testing.T) {
	t.Parallel()
	in := realistic()
	first, err := reviewdoc.Render(in)
	require.NoError(t, err)
	edited := strings.Replace(first, "## How did our systems surprise us?\n",
		"## How did our systems surprise us?\n\nThe pool limit was per host, not per cluster. @ana knew; the runbook did not.\n", 1)
	edited += "\n<!-- notes from the meeting -->\nAction: pair someone with Ana on the pool code.\n"

	in.Record.Timeline = append(in.Record.Timeline, incident.TimelineEntry{
		At: at("14:30"), Source: "pagerduty", Kind: incident.EntryNote, Summary: "Note by Ana Ortiz on #5: pool size back to 50"})
	second, err := reviewdoc.Render(in)
	require.NoError(t, err)
	spliced, err := reviewdoc.Splice(edited, second)
	require.NoError(t, err)
	require.Contains(t, spliced, "The pool limit was per host, not per cluster. @ana knew")
	require.Contains(t, spliced, "Action: pair someone with Ana on the pool code.")
	require.Contains(t, spliced, "pool size back to 50")
	require.Equal(t, strings.Count(edited, "incidenthub:timeline:start"), strings.Count(spliced, "incidenthub:timeline:start"))

	// Splicing the same rendering again changes nothing.
	again, err := reviewdoc.Splice(spliced, second)
	require.NoError(t, err)
	require.Equal(t, spliced, again)
}

func TestSpliceRefusesWhenMarkersAreGone(t *testing.T) {
	t.Parallel()
	doc, err := reviewdoc.Render(realistic())
	require.NoError(t, err)
	edited := regexp.MustCompile(`<!-- incidenthub:timeline:(start|end) -->\n?`).ReplaceAllString(doc, "")
	_, err = reviewdoc.Splice(edited, doc)
	require.ErrorIs(t, err, reviewdoc.ErrMarkersMissing)
	require.ErrorContains(t, err, "timeline")
}

var (
	activeMention = regexp.MustCompile("[@#][^\u200B]|[@#]$")
	hubComment    = regexp.MustCompile(`<!-- incidenthub:[^>]*-->`)
	// headings are the template's own markdown.
	headings = regexp.MustCompile(`(?m)^#+ `)
	// followUpPrompt is the template's own prompt, whose code spans show
	// the /followup syntax.
	followUpPrompt = regexp.MustCompile("(?m)^_Optional: a review need not.*$")
)

// Hostile titles, names, notes and links never make the doc ping anyone,
// load anything or break its structure.
func TestRenderHostileText(t *testing.T) {
	t.Parallel()
	pieces := []string{"@", "#", "ana", "12", "&#64;", "<img src=x>", "![x](https://e.example/b.png)", "|", "\n", "`", "```", "]", "(", ")", "%%", ":", "<!--", "-->", "javascript:", " "}
	r := rand.New(rand.NewPCG(5, 6))
	hostile := func() string {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 300 {
		in := realistic()
		in.Record.Title, in.Record.Commander, in.Record.Service = hostile(), hostile(), hostile()
		in.Record.Responders = []string{hostile(), hostile()}
		in.Record.Pages[0].Title, in.Record.Pages[0].URL = hostile(), hostile()
		in.Record.Timeline[4].Summary, in.Record.Timeline[4].URL = hostile(), "javascript:alert(1)"
		in.Record.Changes[1].Title = hostile()
		in.Earlier[0].Title = hostile()
		in.Record.FollowUps[0].Title, in.Record.FollowUps[1].JiraStatus = hostile(), hostile()
		in.Record.FollowUps[2].JiraURL = "javascript:alert(1)"
		in.SeverityDescription, in.Playbook = hostile(), hostile()
		doc, err := reviewdoc.Render(in)
		require.NoError(t, err)
		body := hubComment.ReplaceAllString(followUpPrompt.ReplaceAllString(doc, ""), "")
		body = headings.ReplaceAllString(body, "")
		// Mentions and references: none outside the hub's own text.
		require.False(t, activeMention.MatchString(strings.ReplaceAll(body, "INC-12", "")), "active mention in:\n%s", body)
		require.NotContains(t, body, "<", "raw HTML in:\n%s", body)
		require.NotContains(t, body, "javascript:", "script link in:\n%s", body)
		require.Equal(t, 14, strings.Count(doc, "<!-- incidenthub:"), "the hub's markers (six sections, the header, the template version), and only they")
		require.Equal(t, 2, strings.Count(doc, "```"), "the Mermaid fence is never broken")
		_, err = reviewdoc.Splice(doc, doc)
		require.NoError(t, err)
	}
}

// A storm of 120 pages with long titles made a 117 KB doc, which GitHub
// refuses (422 above 65,536 characters). Long lists are summarised as
// their first and last rows and a count, and the doc fits with room left
// for people's writing.
func TestRenderStormFitsGitHub(t *testing.T) {
	t.Parallel()
	in := realistic()
	rec := &in.Record
	long := strings.Repeat("Checkout API latency above the SLO on every shard ", 20) // 1,000 characters
	for i := range 120 {
		id := "Q" + strings.Repeat("X", 12) + string(rune('A'+i%26))
		at := at("13:35").Add(time.Duration(i) * 10 * time.Second)
		rec.Pages = append(rec.Pages, &incident.Page{ID: id, Number: 100 + i, Title: long, URL: "https://acme.pagerduty.com/incidents/" + id})
		rec.Timeline = append(rec.Timeline,
			incident.TimelineEntry{At: at, Source: "pagerduty", Kind: incident.EntryPageTriggered, Summary: "triggered: " + long, URL: "https://acme.pagerduty.com/incidents/" + id},
			incident.TimelineEntry{At: at.Add(30 * time.Minute), Source: "pagerduty", Kind: incident.EntryPageResolved, Summary: "resolved: " + long})
		rec.Changes = append(rec.Changes, incident.Change{Key: "github:pull:acme/payments:" + id, Service: "payments",
			Kind: incident.ChangeMerge, Repo: "acme/payments", PRNumber: i, Title: long, At: at.Add(-time.Hour)})
	}
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	require.False(t, reviewdoc.TooLong(doc))
	require.LessOrEqual(t, len([]rune(doc)), 48000, "room left for people's writing")
	// How it began and how it ended are both shown, and what was left out
	// is counted.
	for _, want := range []string{"more entries: `incidenthub incidents show INC-12` lists them all",
		"more in the table", "100 Checkout API", "219 Checkout API"} {
		require.True(t, strings.Contains(doc, want), "the doc lacks %q", want)
	}
	require.True(t, regexp.MustCompile(`· … \d+ more ·`).MatchString(doc), "pages summarised")
	require.Equal(t, 14, strings.Count(doc, "<!-- incidenthub:"), "every hub section is there, the header and the template version")
	_, err = reviewdoc.Splice(doc, doc)
	require.NoError(t, err)

	// A small incident is shown whole.
	small, err := reviewdoc.Render(realistic())
	require.NoError(t, err)
	require.NotContains(t, small, "more entries")
}

// A summary made only of what the Mermaid escaper strips would leave a
// period without text, which Mermaid 11 refuses (breaking the diagram).
func TestRenderMermaidNeverEmpty(t *testing.T) {
	t.Parallel()
	in := realistic()
	in.Record.Timeline[0].Summary = ":;#"
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	require.NotRegexp(t, `(?m)^    \d\dh\d\d :\s*$`, doc)
	require.Contains(t, doc, "(no text)")
}

// Many long follow-ups and responders are clipped too: the doc renders,
// within the limit, whatever people asked for.
func TestRenderManyFollowUpsFits(t *testing.T) {
	t.Parallel()
	in := realistic()
	for i := range 80 {
		in.Record.FollowUps = append(in.Record.FollowUps, incident.FollowUp{Title: strings.Repeat("Alert on pool saturation ", 40),
			Status: incident.FollowUpOpen, JiraKey: fmt.Sprintf("PAY-%d", 100+i)})
		in.Record.Responders = append(in.Record.Responders, fmt.Sprintf("Responder %d %s", i, strings.Repeat("x", 400)))
	}
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	require.False(t, reviewdoc.TooLong(doc))
	require.Contains(t, doc, "more |", "responders summarised")
}

// The responders section lists the roles people held, and says where the
// commander came from.
func TestRenderRoles(t *testing.T) {
	t.Parallel()
	in := realistic()
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	require.NotContains(t, doc, "| Roles |", "no roles assigned")
	in.Record.Roles = []incident.Role{
		{ID: "R1", Name: "Incident Commander", Person: "Ann @org/team", Since: in.Record.OpenedAt},
		{ID: "R2", Name: "Communications Lead", Person: "Bo", Since: in.Record.OpenedAt},
		{ID: "R3", Name: "Scribe", Since: in.Record.OpenedAt},
	}
	in.Record.Commander = "Ann @org/team"
	doc, err = reviewdoc.Render(in)
	require.NoError(t, err)
	require.Contains(t, doc, "| Incident commander | Ann @\u200borg/team (PagerDuty role) |")
	require.Contains(t, doc, "| Roles | Incident Commander: Ann @\u200borg/team, Communications Lead: Bo |\n| Responders |")
}

// A drill's doc is its debrief: marked as a drill, with the drill
// questions in place of the review's, and every hub section kept.
func TestDrillDebrief(t *testing.T) {
	in := realistic()
	in.Record.Kind, in.Record.Title = incident.KindDrill, incident.DrillTitle("Card payments time out")
	doc, err := reviewdoc.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"> **This is a drill.**", "## What did you check first?", "## What was missing from the playbook?",
		"## Who did you call, and how did you find them?", "[DRILL] Card payments time out"} {
		if !strings.Contains(doc, want) && !strings.Contains(reviewdoc.Title(&in.Record), want) {
			t.Errorf("the debrief lacks %q", want)
		}
	}
	for _, notWanted := range []string{"## How did our systems surprise us?", "## Summary and impact"} {
		if strings.Contains(doc, notWanted) {
			t.Errorf("the debrief asks the review's %q", notWanted)
		}
	}
	for _, name := range reviewdoc.RequiredSections {
		if !strings.Contains(doc, "<!-- incidenthub:"+name+":start -->") {
			t.Errorf("the debrief lacks the hub section %s", name)
		}
	}
	if got, want := reviewdoc.Title(&in.Record), "INC-12: [DRILL] Card payments time out — drill debrief"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	real, _ := reviewdoc.Render(realistic())
	if strings.Contains(real, "This is a drill") || !strings.Contains(real, "## How did our systems surprise us?") {
		t.Error("a real incident's review reads as a drill's debrief")
	}
}
