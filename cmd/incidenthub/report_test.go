package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/report/reporttest"
	"github.com/incidenthub/incidenthub/internal/store"
)

// `incidenthub report` on a store holding the fixture set prints the
// figures computed by hand; a drill among them counts nowhere.
func TestReportMatchesTheHandFigures(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, freeAddr(t))
	require.NoError(t, reporttest.Store(context.Background(), openTestStore(t, cfg)))
	out := cli(t, "report", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01", "--format", "json")
	require.JSONEq(t, reporttest.Expected, out)

	text := cli(t, "report", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01")
	require.Regexp(t, `payments\s+SEV2\s+3\s+6m / 20m`, text)
	md := cli(t, "report", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01", "--service", "payments", "--format", "markdown")
	require.Contains(t, md, "```mermaid\nxychart-beta")
	require.NotContains(t, md, "checkout")
	require.Contains(t, cliErr(t, "report", "--config", path, "--format", "pdf"), "want text, markdown or json")
	require.Contains(t, cliErr(t, "report", "--config", path, "--since", "lately"), "want an age such as 90d or a date")
	require.Contains(t, cliErr(t, "report", "--config", path, "--service", "paymnts", "--post"),
		`--service "paymnts" is not a configured service, and no incident names it`, "a typo posts nothing")
	require.Contains(t, cliErr(t, "export", "--config", path, "--service", "paymnts"), `--service "paymnts" is not a configured service`)
	require.Contains(t, cli(t, "report", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01", "--service", "checkout"),
		"checkout", "a service no longer configured reports on the incidents it had")
}

// --post: a running hub opens the month's report issue, with its charts;
// posted again, it updates the same issue.
func TestReportPost(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	gh := githubtest.New(t)
	path, cfg := testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	text = append(text, fmt.Sprintf("github: {webhook_secrets: [%q], token: gh-token, base_url: %q, review_repo: acme/incidents}\n", githubSecret, gh.URL)...)
	require.NoError(t, os.WriteFile(path, text, 0o600))
	require.NoError(t, reporttest.Store(context.Background(), openTestStore(t, cfg)))
	startHub(t, path, base)

	post := func() {
		out := cli(t, "report", "--post", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01")
		require.Contains(t, out, `report "Incident report, September 2026" requested`)
	}
	post()
	require.Eventually(t, func() bool { return len(gh.Issues()) == 1 }, 20*time.Second, 50*time.Millisecond)
	issue := gh.Issues()[1]
	require.Equal(t, "Incident report, September 2026", issue.Title)
	require.Contains(t, issue.Labels, "incidenthub:report:2026-09")
	require.Contains(t, issue.Body, "| payments | SEV2 | 3 | 6m / 20m | 50m / 3h |")
	require.Equal(t, 4, strings.Count(issue.Body, "```mermaid"))
	_, posted, _ := strings.Cut(issue.Body, "-->\n")
	require.Equal(t, cli(t, "report", "--config", path, "--since", "2026-09-01", "--until", "2026-10-01", "--format", "markdown"), posted,
		"the issue gives the figures the command gives, follow-ups aged at the period's end")

	gh.SetBody(1, "edited by someone")
	post()
	require.Eventually(t, func() bool { return strings.Contains(gh.Issues()[1].Body, "| payments | SEV2 |") }, 20*time.Second, 50*time.Millisecond)
	require.Len(t, gh.Issues(), 1, "one issue a month")
}

// The JSON a dry drill leaves in the report: nothing.
func reportTotal(t *testing.T, path string) int {
	t.Helper()
	var rep struct {
		Total struct {
			Incidents int `json:"incidents"`
		} `json:"total"`
		Groups []json.RawMessage `json:"groups"`
	}
	require.NoError(t, json.Unmarshal([]byte(cli(t, "report", "--config", path, "--format", "json", "--since", "100000d")), &rep))
	return rep.Total.Incidents
}

// `incidenthub export` writes the closed reviews (INC-1 and INC-2 of the
// fixtures) with no name, login or email of anyone in them, in any
// format; a person keeps one pseudonym throughout.
func TestExportHasNoPeople(t *testing.T) {
	t.Parallel()
	path, cfg := testConfig(t, freeAddr(t))
	require.NoError(t, reporttest.Store(context.Background(), openTestStore(t, cfg)))
	void := cli(t, "export", "--config", path, "--format", "void", "--organisation", "Acme Inc.")
	var got struct {
		Incidents []struct {
			Organization, Title, Date, Impact, ReportURL string
			DurationMinutes                              float64 `json:"duration_minutes"`
		} `json:"incidents"`
	}
	require.NoError(t, json.Unmarshal([]byte(void), &got))
	require.Len(t, got.Incidents, 2, "the two closed reviews")
	require.Equal(t, "Acme Inc.", got.Incidents[0].Organization)
	require.Equal(t, "2026-09-02", got.Incidents[0].Date)
	require.Equal(t, 50.0, got.Incidents[0].DurationMinutes)
	require.Equal(t, "SEV2 on payments, resolved in 50m", got.Incidents[0].Impact)
	for _, format := range []string{"void", "json", "markdown"} {
		out := cli(t, "export", "--config", path, "--format", format)
		for _, who := range reporttest.People {
			require.NotContains(t, strings.ToLower(out), strings.ToLower(who), "%s export", format)
		}
		require.NotRegexp(t, `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}`, out, "no email in the %s export", format)
	}
	md := cli(t, "export", "--config", path, "--format", "markdown")
	require.Contains(t, md, "- Incident commander: Person 1\n")
	require.Contains(t, md, "#5 acknowledged by Person 1")
	require.Contains(t, md, "Note by Person 2 on #5: paging [email] and Person 5 about the pool")
	later := cli(t, "export", "--config", path, "--since", "2026-09-05", "--until", "2026-10-01", "--format", "markdown")
	require.Contains(t, later, "## INC-2")
	require.NotContains(t, later, "## INC-1")
	for _, line := range strings.Split(later, "\n") {
		if strings.Contains(line, "Person") {
			require.Contains(t, md, line, "a person keeps their pseudonym in the export of another period")
		}
	}
	require.Contains(t, cli(t, "export", "--config", path, "--since", "2026-09-05", "--until", "2026-10-01", "--format", "json"), `"id": "INC-2"`)
	require.NotContains(t, cli(t, "export", "--config", path, "--since", "2026-09-05", "--format", "json"), `"id": "INC-1"`)
}

// A person keeps the pseudonym the first export gave them in every export
// after it: a review that closes later, older than those exported before,
// numbers its own people after them instead of renumbering everyone. The
// numbers are kept in the store.
func TestExportPseudonymsKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, cfg := testConfig(t, freeAddr(t))
	s := openTestStore(t, cfg)
	require.NoError(t, reporttest.Store(ctx, s))
	setStatus := func(status incident.Status) {
		require.NoError(t, s.Update(ctx, func(tx *store.Tx) error {
			rec, err := tx.RecordByID(ctx, 1)
			require.NoError(t, err)
			rec.Status = status
			return tx.SaveRecord(ctx, rec, nil)
		}))
	}
	commanders := func() map[string]string {
		var got struct {
			Reviews []struct {
				ID        string `json:"id"`
				Commander string `json:"commander"`
			} `json:"reviews"`
		}
		require.NoError(t, json.Unmarshal([]byte(cli(t, "export", "--config", path, "--format", "json")), &got))
		out := map[string]string{}
		for _, r := range got.Reviews {
			out[r.ID] = r.Commander
		}
		return out
	}
	setStatus(incident.StatusReviewing) // INC-1's review reopened
	require.Equal(t, map[string]string{"INC-2": "Person 1"}, commanders())
	setStatus(incident.StatusClosed)
	all := commanders()
	require.Equal(t, "Person 1", all["INC-2"], "kept")
	require.NotEqual(t, "Person 1", all["INC-1"])
	require.NotEmpty(t, all["INC-1"])
	require.Equal(t, all, commanders(), "and again")
}
