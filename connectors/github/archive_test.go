package github_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/internal/report/reporttest"
)

// The file of a closed review: front matter that a search finds, then
// the review as people left it. README shows this front matter.
func TestArchiveText(t *testing.T) {
	t.Parallel()
	rec := reporttest.Records()[0]
	rec.ReviewDoc = "https://github.com/acme/incidents/issues/31"
	text, err := github.ArchiveText(&rec, "## Summary and impact\r\n\r\nThe pool ran dry.\r\n", rec.ReviewDoc)
	require.NoError(t, err)
	require.Equal(t, `---
incident: INC-1
title: Checkout API 5xx above 2%
service: payments
severity: SEV2
opened_at: "2026-09-02T10:00:00Z"
acknowledged_at: "2026-09-02T10:06:00Z"
resolved_at: "2026-09-02T10:50:00Z"
closed_at: "2026-09-04T12:00:00Z"
time_to_acknowledge: 6m0s
time_to_resolve: 50m0s
pages: 2
review: https://github.com/acme/incidents/issues/31
changes:
  - 'Deploy of acme/payments@f95f852 to production: success by codertocat'
follow_ups:
  - title: Alert on pool saturation
    ticket: PAY-1
    status: done
  - title: Pair on the pool code
    status: open
---

# INC-1: Checkout API 5xx above 2%

## Summary and impact

The pool ran dry.
`, string(text))
}

// Paths are by the year the incident opened and a slug of its title;
// the index escapes what people wrote.
func TestArchivePathAndIndex(t *testing.T) {
	t.Parallel()
	rec := reporttest.Records()[0]
	require.Equal(t, "reviews/2026/INC-1-checkout-api-5xx-above-2.md", github.ArchivePath(&rec))
	rec.Title = "  ¡Ünïcode!  & a very long title that goes on and on well past what a file name should hold"
	require.Equal(t, "reviews/2026/INC-1-n-code-a-very-long-title-that-goes-on-and-on.md", github.ArchivePath(&rec))
	rec.Title = "@@@"
	require.Equal(t, "reviews/2026/INC-1.md", github.ArchivePath(&rec))

	rec.Title, rec.Archived = "Ping @oncall | see #12", "reviews/2026/INC-1.md"
	row := github.IndexRow(&rec)
	require.True(t, strings.HasPrefix(row, "| [INC-1](2026/INC-1.md) | 2026-09-02 | payments | SEV2 |"), row)
	require.NotContains(t, row, "@oncall")
	require.Contains(t, row, `\| see #`, "the title's pipe is escaped")

	// Newest first, and bounded: the oldest rows give way.
	rows := map[int64]string{}
	for id := int64(1); id <= 1002; id++ {
		rows[id] = fmt.Sprintf("| [INC-%d](2026/INC-%d.md) | | | | |", id, id)
	}
	index := string(github.ArchiveIndex(rows))
	require.Less(t, strings.Index(index, "[INC-1002]"), strings.Index(index, "[INC-1001]"))
	require.NotContains(t, index, "[INC-2]")
	require.Contains(t, index, "[INC-3]")
	require.Contains(t, index, "The newest 1000 are listed")
}

// A report issue's label fits GitHub's 50 characters whatever the
// service's name; the title names it.
func TestReportLabel(t *testing.T) {
	t.Parallel()
	a := github.PostReportArgs{Month: "2026-11", Service: strings.Repeat("payments-gateway-", 4)}
	require.LessOrEqual(t, len(a.Label()), 50, a.Label())
	require.NotEqual(t, a.Label(), github.PostReportArgs{Month: "2026-11", Service: "checkout"}.Label())
	require.Equal(t, "incidenthub:report:2026-11", github.PostReportArgs{Month: "2026-11"}.Label())
	require.Equal(t, "Incident report, November 2026 — checkout", github.ReportTitle(github.PostReportArgs{Month: "2026-11", Service: "checkout"}))
}

// What people wrote stays on its line of the front matter: no line break,
// control or bidi character survives into the YAML GitHub shows.
func TestArchiveTextHostileFrontMatter(t *testing.T) {
	t.Parallel()
	rec := reporttest.Records()[0]
	rec.Title = "Pool dry\n---\nowned: true \u202egnp.exe\x1b[31m"
	rec.FollowUps[0].Title = "Alert\r\non pool\u2028saturation"
	text, err := github.ArchiveText(&rec, "The pool ran dry.", "")
	require.NoError(t, err)
	front, _, ok := strings.Cut(strings.TrimPrefix(string(text), "---\n"), "\n---\n")
	require.True(t, ok)
	require.Contains(t, front, "title: 'Pool dry --- owned: true gnp.exe[31m'\n")
	require.Contains(t, front, "  - title: Alert  on poolsaturation\n")
	require.NotRegexp(t, "[\u202e\x1b\u2028\r]", front)
}

// A write without a sha where a file appeared is GitHub's 422 "sha
// wasn't supplied": the file changed, read it again. Any other 422 is
// GitHub refusing the write, which no second read mends.
func TestContentsPutRefusals(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t)
	fake.SetFile("reviews/README.md", "# Incident database\n")
	contents := github.NewContents(fake.Client(t), "acme/incidents", github.NewWriteGate())
	_, err := contents.Put(context.Background(), "reviews/README.md", "index", []byte("# Mine\n"), "")
	require.ErrorIs(t, err, github.ErrFileChanged)

	fake.Faults = []githubtest.Fault{{Op: "put", Status: http.StatusUnprocessableEntity,
		Body: `{"message":"Invalid request.\n\nFor 'properties/path', \"x\" is not a valid path."}`}}
	_, err = contents.Put(context.Background(), "reviews/2026/INC-1.md", "review", []byte("text"), "")
	require.Error(t, err)
	require.NotErrorIs(t, err, github.ErrFileChanged)
}
