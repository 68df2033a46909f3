package reviewdoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// custom is an organisation's own template: the hub's sections, in its
// own order and words.
const custom = `# {{md .Title}} ({{.Ref}})

Owner: {{with .Commander}}{{md .}}{{else}}nobody{{end}}

<!-- incidenthub:overview:start -->
Severity {{md .Severity}}, opened {{stamp .OpenedAt}}, resolved {{after .OpenedAt .ResolvedAt}}.
<!-- incidenthub:overview:end -->

## What we decided

<!-- incidenthub:timeline:start -->
{{range .Timeline}}- {{stamp .At}} {{mdrow .Summary}}
{{end}}<!-- incidenthub:timeline:end -->
<!-- incidenthub:changes:start -->
{{range .Changes}}- {{link (summary .) .URL}}
{{end}}<!-- incidenthub:changes:end -->
<!-- incidenthub:followups:start -->
{{range .FollowUps}}- {{followup .}}: {{mdrow .Title}}
{{end}}<!-- incidenthub:followups:end -->
`

func TestBuiltinTemplatePassesItsOwnChecks(t *testing.T) {
	_, err := ParseTemplate("review.md.tmpl", builtinText)
	require.NoError(t, err)
}

func TestCustomTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ours.md.tmpl")
	require.NoError(t, os.WriteFile(path, []byte(custom), 0o600))
	tmpl, err := LoadTemplate(path)
	require.NoError(t, err)
	require.NotEqual(t, Builtin().Version, tmpl.Version)

	in := sampleInput()
	in.Record.Title = "Checkout down for @payments-team"
	doc, err := tmpl.Render(in)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(doc, "# Checkout down for @\u200bpayments\\-team (INC-12)"), doc)
	require.Equal(t, tmpl.Version, TemplateVersion(doc))
	require.Equal(t, "", TemplateVersion(strings.ReplaceAll(doc, "incidenthub:template", "x")))
	for _, s := range RequiredSections {
		require.True(t, hasSection(doc, s), s)
	}

	// A doc opened with another template gets this one's sections, and
	// keeps everything else, its version line included.
	old, err := Render(in)
	require.NoError(t, err)
	spliced, err := Splice(old, doc)
	require.NoError(t, err)
	require.Contains(t, spliced, "## Who knew what")
	require.Contains(t, spliced, "Severity SEV1, opened")
	require.Equal(t, Builtin().Version, TemplateVersion(spliced))
}

func TestTemplateMistakesAreCaughtAtCheck(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"a syntax error names its line", custom + "\n{{if .Title}}never closed\n", []string{"ours.md.tmpl:22:", "unexpected EOF"}},
		{"an unknown field names its line and column", strings.Replace(custom, "Owner:", "{{.Owner}}", 1), []string{"ours.md.tmpl:3:2:", "Owner"}},
		{"an unknown helper", custom + "{{shout .Title}}", []string{"ours.md.tmpl:20:", `function "shout" not defined`}},
		{"a missing section", strings.ReplaceAll(custom, "incidenthub:changes:", "changes:"), []string{`"changes" section is missing`}},
		{"text printed raw", strings.Replace(custom, "{{md .Title}}", "{{.Title}}", 1), []string{".Title is printed without escaping", "{{md .Title}}"}},
		{"a follow-up printed raw", strings.Replace(custom, "{{mdrow .Title}}", "{{.Title}}", 1), []string{"a follow-up's .Title is printed without escaping"}},
		{"a section only when there are changes", strings.Replace(strings.Replace(custom, "<!-- incidenthub:changes:start -->", "{{if .Changes}}<!-- incidenthub:changes:start -->", 1),
			"<!-- incidenthub:changes:end -->", "<!-- incidenthub:changes:end -->{{end}}", 1), []string{`"changes" section is missing (in every doc`}},
		{"raw text in a storm's summarised list", custom + "{{range .ShownPages.Tail}}{{.Title}}{{end}}", []string{"a page's .Title is printed without escaping"}},
		{"a first page that an announcement lacks", custom + "{{(index .Pages 0).ID}}", []string{"error calling index"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate("ours.md.tmpl", tc.text)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := LoadTemplate(filepath.Join(t.TempDir(), "missing.tmpl"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// The README documents every helper a template may call.
func TestReadmeListsTheTemplateHelpers(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	for _, h := range helpers() {
		require.True(t, strings.Contains(string(readme), "`"+h+"`"), "README.md does not list the template helper %q", h)
	}
}
