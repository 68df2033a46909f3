package export_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/export"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// People become pseudonyms wherever they appear, in any case and as a
// mention; words that merely contain a name do not change; emails and
// mentions of people nobody configured are blanked.
func TestRedactor(t *testing.T) {
	t.Parallel()
	recs := []incident.Record{
		{ID: 1, Commander: "Ana Ortiz", Responders: []string{"Ana Ortiz", "Bo"}},
		{ID: 2, Changes: []incident.Change{{Actor: "octocat"}}},
	}
	people := config.People{{Name: "Ana Ortiz", GitHub: "aortiz", PagerDutyEmail: "ana@acme.example"}, {Name: "X"}}
	r := export.NewRedactor(recs, people)
	for in, want := range map[string]string{
		"Acknowledged by ana ortiz":                  "Acknowledged by Person 1",
		"@aortiz and @octocat looked":                "Person 1 and Person 3 looked",
		"Bo ate a banana with Bob":                   "Person 2 ate a banana with Bob",
		"write to ana@acme.example or x@y.example":   "write to [email] or [email]",
		"cc @someone-else and @acme/oncall, not a@b": "cc [someone] and [someone], not a@b",
		"X marks the spot":                           "X marks the spot",
		"ȺȺȺ ana ortiz":                              "ȺȺȺ Person 1",
		"İstanbul outage, Ana Ortiz paged":           "İstanbul outage, Person 1 paged",
		"ANA ORTIZ, ana ortiz's notes":               "Person 1, Person 1's notes",
	} {
		require.Equal(t, want, r.Text(in), in)
	}
	require.Equal(t, "Person 1", r.Name("aortiz"), "a person's logins and names share one pseudonym")
	require.Equal(t, "", r.Name(""))
}

// An incident database path is a slug of the title it was archived under:
// one that names somebody is left out of the export.
func TestReviewsArchivePath(t *testing.T) {
	t.Parallel()
	recs := []incident.Record{
		{ID: 1, Commander: "Ana Ortiz", Archived: "reviews/2026/INC-1-rollback-by-ana-ortiz.md"},
		{ID: 2, AckedBy: "bo-k", Archived: "reviews/2026/INC-2-pool-saturated-after-bo-k-s-deploy.md"},
		{ID: 3, Archived: "reviews/2026/INC-3-checkout-api-5xx-above-2.md", Title: "Checkout API 5xx above 2%"},
		{ID: 4, Responders: []string{"Zoë Walsh", "Dee O'Brien"}, Archived: "reviews/2026/INC-4-rollback-by-zo-walsh.md", Title: "Rollback"},
		{ID: 5, Archived: "reviews/2026/INC-5-dee-o-brien-s-pool.md", Title: "Pool"},
		{ID: 6, Archived: "reviews/2026/INC-6-pool.md", Title: "Pool emptied by Zoë Walsh"},
	}
	got := map[string]string{}
	for _, v := range export.Reviews(recs, export.Options{}) {
		got[v.ID] = v.ArchivePath
	}
	require.Equal(t, map[string]string{"INC-1": "", "INC-2": "", "INC-3": "reviews/2026/INC-3-checkout-api-5xx-above-2.md",
		"INC-4": "", "INC-5": "", "INC-6": ""}, got)
}

// People keep the numbers earlier exports gave them; the others get the
// numbers after the highest, returned to be kept. A follow-up's requester
// and assignee are two people.
func TestRedactorFromGivenNumbers(t *testing.T) {
	t.Parallel()
	recs := []incident.Record{{ID: 1, Commander: "Ana Ortiz", FollowUps: []incident.FollowUp{{RequestedBy: "Ana Ortiz", Assignee: "Priya Raman"}}}}
	people := config.People{{Name: "Bo Li", GitHub: "boli"}}
	r, added := export.NewRedactorFrom(recs, people, map[string]int{"boli": 7, "someone else": 2})
	require.Equal(t, "Person 8", r.Name("Ana Ortiz"))
	require.Equal(t, "Person 9", r.Name("Priya Raman"), "not Ana")
	require.Equal(t, "Person 7", r.Name("Bo Li"), "known by another spelling before")
	require.Equal(t, map[string]int{"ana ortiz": 8, "priya raman": 9, "bo li": 7}, added)
}

// Everyone an earlier export numbered is redacted, named in this export's
// records or only in their text; a configured person keeps their number
// under a spelling the records use before the configuration is read.
func TestRedactorFromKnowsEveryoneGivenBefore(t *testing.T) {
	t.Parallel()
	recs := []incident.Record{{ID: 7, Changes: []incident.Change{{Actor: "boli"}}}}
	people := config.People{{Name: "Bo Li", GitHub: "boli"}}
	r, added := export.NewRedactorFrom(recs, people, map[string]int{"eve park": 3, "bo li": 5})
	require.Equal(t, "paged Person 3 at noon", r.Text("paged Eve Park at noon"))
	require.Equal(t, "Person 5", r.Name("boli"))
	require.Equal(t, "Person 5", r.Name("Bo Li"))
	require.Equal(t, map[string]int{"boli": 5}, added)
}
