package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/report"
	"github.com/incidenthub/incidenthub/internal/report/reporttest"
)

var severities = []string{"SEV1", "SEV2", "SEV3", "SEV4"}

func september() report.Report {
	return report.Compute(reporttest.Records(), report.Options{Since: reporttest.Since, Until: reporttest.Until,
		Now: reporttest.Until, Severities: severities})
}

// The fixture set's figures, as computed by hand in reporttest.Expected.
func TestComputeMatchesTheHandFigures(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(september())
	require.NoError(t, err)
	require.JSONEq(t, reporttest.Expected, string(got))
}

// One service: only its groups, and its total.
func TestComputeOneService(t *testing.T) {
	t.Parallel()
	rep := report.Compute(reporttest.Records(), report.Options{Since: reporttest.Since, Until: reporttest.Until,
		Now: reporttest.Until, Service: "checkout"})
	require.Len(t, rep.Groups, 1)
	require.Equal(t, "SEV3", rep.Groups[0].Severity)
	require.Equal(t, 1, rep.Total.Incidents)
}

// Text and Markdown show the same figures; the Markdown charts are
// Mermaid xycharts with one value per week.
func TestRender(t *testing.T) {
	t.Parallel()
	rep := september()
	var text bytes.Buffer
	require.NoError(t, report.Text(&text, rep))
	require.Contains(t, text.String(), "Incidents opened 2026-09-01 to 2026-10-01 (all services)")
	require.Regexp(t, `payments\s+SEV2\s+3\s+6m / 20m\s+50m / 3h\s+2\.33\s+33%\s+2/2/1\s+1/1\s+1/2 of 2`, text.String())
	require.Regexp(t, `total\s+5\s+2m / 20m\s+30m / 3h\s+1\.80\s+40%`, text.String())
	require.Contains(t, text.String(), "Announced risky changes: 2, of which 1 were followed by a page.")

	var md bytes.Buffer
	require.NoError(t, report.Markdown(&md, rep, severities))
	doc := md.String()
	require.Contains(t, doc, "| payments | SEV2 | 3 | 6m / 20m | 50m / 3h | 2.33 | 33% | 2 / 2 / 1 | 1 / 1 | 1 / 2 of 2 |")
	require.Equal(t, 4, strings.Count(doc, "```mermaid\nxychart-beta"), "SEV1, SEV2, SEV3, and the time to resolve")
	require.Contains(t, doc, `x-axis ["08-31", "09-07", "09-14", "09-21", "09-28"]`)
	require.Contains(t, doc, "bar [1, 1, 1, 0, 0]") // SEV2 by week
	require.Contains(t, doc, "line [10, 180, 30, 0, 0]")
	require.NotContains(t, doc, "DRILL")
}

// Median and p90 by nearest rank over more values than the fixture set
// has in a group, where p90 is not simply the largest.
func TestComputeNearestRank(t *testing.T) {
	t.Parallel()
	opened := reporttest.Since.Add(time.Hour)
	var recs []incident.Record
	for i, minutes := range []int{7, 19, 3, 12, 1, 20, 15, 9, 4, 11, 18, 2, 16, 6, 13, 10, 5, 17, 8, 14} {
		recs = append(recs, incident.Record{ID: int64(i + 1), Kind: incident.KindIncident, Service: "payments", Severity: "SEV2",
			Status: incident.StatusResolved, OpenedAt: opened, ResolvedAt: opened.Add(time.Duration(minutes) * time.Minute)})
	}
	rep := report.Compute(recs, report.Options{Since: reporttest.Since, Until: reporttest.Until, Now: reporttest.Until})
	require.Len(t, rep.Groups, 1)
	// Sorted, the 10th of 20 values is 10 minutes and the 18th is 18.
	require.Equal(t, report.Stat{Count: 20, MedianSeconds: 600, P90Seconds: 1080}, rep.Groups[0].TimeToResolve)
}

// A chart's title is a Mermaid string: a severity named with an @ keeps
// its zero-width space as the character, never as a Go escape.
func TestChartTitle(t *testing.T) {
	t.Parallel()
	rep := report.Compute(reporttest.Records(), report.Options{Since: reporttest.Since, Until: reporttest.Until, Now: reporttest.Until})
	for i := range rep.Weeks {
		rep.Weeks[i].BySeverity = map[string]int{"SEV2 @ops": rep.Weeks[i].BySeverity["SEV2"]}
	}
	var md bytes.Buffer
	require.NoError(t, report.Markdown(&md, rep, nil))
	require.Contains(t, md.String(), "    title \"SEV2 @\u200bops incidents per week\"\n")
	require.NotContains(t, md.String(), `\u`)
}
