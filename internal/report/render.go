package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/incidenthub/incidenthub/internal/escape"
)

// Text writes the report as aligned columns for a terminal.
func Text(w io.Writer, rep Report) error {
	fmt.Fprintf(w, "%s\n\n", heading(rep))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSEVERITY\tINCIDENTS\tACK p50/p90\tRESOLVE p50/p90\tPAGES/INC\tRECENT CHANGE\tREVIEWS opened/closed/on time\tFOLLOW-UPS open/closed\tLEARNING who knew/surprised")
	for _, g := range append(slices.Clone(rep.Groups), total(rep.Total)) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%.2f\t%s\t%d/%d/%d\t%d/%d\t%d/%d of %d\n", g.Service, g.Severity, g.Incidents,
			pair(g.TimeToAcknowledge), pair(g.TimeToResolve), g.Pages.PerIncident, percent(g.ChangeShare),
			g.Reviews.Opened, g.Reviews.Closed, g.Reviews.ClosedOnTime, g.FollowUps.Open, g.FollowUps.Closed,
			g.Learning.WhoKnew, g.Learning.Surprised, g.Learning.ClosedReviews)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := rep.Total
	_, err := fmt.Fprintf(w, "\nAnnounced risky changes: %d, of which %d were followed by a page.\n"+
		"Open follow-ups: median age %s, oldest %s; closed ones took %s (median).\n",
		t.Awareness.Announced, t.Awareness.Paged, daysText(t.FollowUps.OpenAgeMedianDays), daysText(t.FollowUps.OldestOpenDays),
		daysText(t.FollowUps.ClosedInMedian))
	return err
}

// Markdown writes the report for GitHub: tables, and Mermaid charts of
// incidents per week by severity and of the time to resolve.
func Markdown(w io.Writer, rep Report, severities []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", escape.Markdown(heading(rep)))
	b.WriteString("| Service | Severity | Incidents | Acknowledged (p50 / p90) | Resolved (p50 / p90) | Pages per incident | With a recent change | Reviews opened / closed / on time | Follow-ups open / closed | Reviews that say who knew what / what surprised us |\n")
	b.WriteString("|---|---|---:|---|---|---:|---:|---|---|---|\n")
	for _, g := range append(slices.Clone(rep.Groups), total(rep.Total)) {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %.2f | %s | %d / %d / %d | %d / %d | %d / %d of %d |\n",
			escape.Markdown(g.Service), escape.Markdown(g.Severity), g.Incidents, pair(g.TimeToAcknowledge), pair(g.TimeToResolve),
			g.Pages.PerIncident, percent(g.ChangeShare), g.Reviews.Opened, g.Reviews.Closed, g.Reviews.ClosedOnTime,
			g.FollowUps.Open, g.FollowUps.Closed, g.Learning.WhoKnew, g.Learning.Surprised, g.Learning.ClosedReviews)
	}
	t := rep.Total
	fmt.Fprintf(&b, "\nAnnounced risky changes: %d, of which %d were followed by a page. "+
		"Open follow-ups: median age %s, oldest %s; closed ones took %s (median).\n",
		t.Awareness.Announced, t.Awareness.Paged, daysText(t.FollowUps.OpenAgeMedianDays), daysText(t.FollowUps.OldestOpenDays),
		daysText(t.FollowUps.ClosedInMedian))
	if len(rep.Weeks) > 0 {
		b.WriteString("\n### Incidents per week\n")
		for _, sev := range weekSeverities(rep, severities) {
			counts := make([]string, len(rep.Weeks))
			most := 0
			for i, wk := range rep.Weeks {
				counts[i] = fmt.Sprint(wk.BySeverity[sev])
				most = max(most, wk.BySeverity[sev])
			}
			chart(&b, sev+" incidents per week", "incidents", weekLabels(rep), "bar", counts, float64(most))
		}
		ttr := make([]string, len(rep.Weeks))
		most := 0.0
		for i, wk := range rep.Weeks {
			m := math.Round(wk.TimeToResolve.MedianSeconds / 60)
			ttr[i] = fmt.Sprint(m)
			most = max(most, m)
		}
		b.WriteString("\n### Time to resolve\n")
		chart(&b, "Median time to resolve per week (minutes)", "minutes", weekLabels(rep), "line", ttr, most)
	}
	b.WriteString("\n_Drills are left out. Medians and 90th percentiles are by nearest rank. Made by `incidenthub report`._\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// chart is a Mermaid xychart, which GitHub renders.
func chart(b *strings.Builder, title, axis string, labels []string, kind string, values []string, most float64) {
	// Quoted as Mermaid reads strings, not as Go does: Mermaid leaves no
	// quote or backslash in a label, and a Go escape (\u200b) would show.
	fmt.Fprintf(b, "\n```mermaid\nxychart-beta\n    title \"%s\"\n    x-axis [%s]\n    y-axis \"%s\" 0 --> %g\n    %s [%s]\n```\n",
		escape.Mermaid(title), strings.Join(labels, ", "), escape.Mermaid(axis), math.Max(most, 1), kind, strings.Join(values, ", "))
}

func weekLabels(rep Report) []string {
	out := make([]string, len(rep.Weeks))
	for i, w := range rep.Weeks {
		out[i] = `"` + w.Start.Format("01-02") + `"`
	}
	return out
}

// weekSeverities are the severities with incidents, most severe first.
func weekSeverities(rep Report, order []string) []string {
	seen := map[string]bool{}
	for _, w := range rep.Weeks {
		for s, n := range w.BySeverity {
			if n > 0 {
				seen[s] = true
			}
		}
	}
	var out []string
	for _, s := range order {
		if seen[s] {
			out = append(out, s)
			delete(seen, s)
		}
	}
	rest := make([]string, 0, len(seen))
	for s := range seen {
		rest = append(rest, s)
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func heading(rep Report) string {
	scope := "all services"
	if rep.Service != "" {
		scope = rep.Service
	}
	return fmt.Sprintf("Incidents opened %s to %s (%s)", rep.Since.Format("2006-01-02"), rep.Until.Format("2006-01-02"), scope)
}

func total(f Figures) Figures {
	f.Service, f.Severity = "total", ""
	return f
}

func pair(s Stat) string {
	if s.Count == 0 {
		return "-"
	}
	return short(s.MedianSeconds) + " / " + short(s.P90Seconds)
}

// short is a duration as people say it: 45s, 6m, 2h10m, 3d4h.
func short(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour && int(d.Minutes())%60 == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func percent(x float64) string { return fmt.Sprintf("%.0f%%", x*100) }

func daysText(d float64) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f days", d)
}
