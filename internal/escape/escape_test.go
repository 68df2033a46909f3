package escape_test

import (
	"html"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/escape"
)

func TestMarkdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Checkout latency", "Checkout latency"},
		{"@oncall please look", "@\u200Boncall please look"},
		{"fixed by acme/payments#123 and #124", "fixed by acme/payments#\u200B123 and #\u200B124"},
		{"&#64;org/team", "@\u200Borg/team"},
		{"&commat;admins", "@\u200Badmins"},
		{"<img src=https://evil.example/b.png>", "&lt;img src=https\\://evil\\.example/b\\.png&gt;"},
		{"![beacon](https://evil.example/x.png)", "\\!\\[beacon\\]\\(https\\://evil\\.example/x\\.png\\)"},
		{"a | b", "a \\| b"},
		{"two\nlines\r\n", "two lines  "},
		{"`code` and ```fence", "\\`code\\` and \\`\\`\\`fence"},
		{"**bold** _it_ ~~s~~", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~"},
		{"rtl\u202Eeman.exe", "rtleman\\.exe"},
		{"&amp;lt;", "&amp;lt;"},
		{"javascript:alert(1)", "javascript\\:alert\\(1\\)"},
		{"- not a list", "\\- not a list"},
		{"see GH-12 and gh-7", "see GH\u200B\\-12 and gh\u200B\\-7"},
		{"GHOST-12 NIGH-3", "GHOST\\-12 NIGH\\-3"},
	} {
		require.Equal(t, tc.want, escape.Markdown(tc.in), "in: %q", tc.in)
	}
}

var (
	// activeMention is an @ or # that GitHub could act on: one not
	// followed by the zero-width space.
	activeMention = regexp.MustCompile("[@#][^\u200B]|[@#]$")
	// activeGHReference is GitHub's GH-12 reference, as rendered (the
	// backslash before "-" is markdown's, gone once rendered).
	activeGHReference = regexp.MustCompile(`(?i)\bgh\\?-\d`)
	unescaped         = regexp.MustCompile("(^|[^\\\\])[\\[\\]!|`*_()]")
)

// hostile builds strings from the pieces attackers use.
func hostile(r *rand.Rand) string {
	pieces := []string{
		"@", "#", "a", "Z", "0", "9", "-", "_", "/", " ", "\n", "\r", "\t", "<", ">", "!", "[", "]", "(", ")",
		"|", "`", "*", "~", "\\", "&", ";", "#x40;", "&#64;", "&#x40;", "&commat;", "&num;", "&lt;", "&amp;",
		"img src=", "https://x.example/p.png", "\u202E", "\u200B", "\u0000", "é", "🚨", ":", "javascript", "GH-", "gh", "1",
	}
	var b strings.Builder
	for range r.IntN(24) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// checkInert asserts what escaped text must never contain.
func checkInert(t *testing.T, in, out string) {
	t.Helper()
	for _, view := range []string{out, html.UnescapeString(out)} {
		require.False(t, activeMention.MatchString(view), "active mention or reference in %q (from %q)", view, in)
		require.False(t, activeGHReference.MatchString(view), "active GH- reference in %q (from %q)", view, in)
	}
	require.NotContains(t, out, "<", "raw HTML from %q", in)
	require.NotContains(t, out, "\n", "line break from %q", in)
	require.NotContains(t, out, "\r", "line break from %q", in)
	require.NotContains(t, out, "\u202E", "bidi override from %q", in)
	require.False(t, unescaped.MatchString(out), "unescaped markdown syntax in %q (from %q)", out, in)
}

// Hostile titles and notes never produce an active mention, a reference,
// an image, raw HTML or a line break, whatever they are made of.
func TestMarkdownNeverActive(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		in := hostile(r)
		checkInert(t, in, escape.Markdown(in))
	}
}

func FuzzMarkdown(f *testing.F) {
	for _, seed := range []string{"@team", "&#64;x", "![a](b)", "a|b", "#1", "\\@x", "<b>", "&commat;&num;5", "GH-12"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkInert(t, in, escape.Markdown(in))
	})
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	require.Equal(t, "short", escape.Truncate("short", 10))
	require.Equal(t, "🚨🚨…", escape.Truncate("🚨🚨🚨🚨", 3))
}

func TestTitleMermaidURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "@\u200Boncall: DB #\u200B5 down *now*", escape.Title("@oncall: DB #5\ndown *now*"))
	require.Equal(t, "rolled back GH\u200B-12", escape.Title("rolled back GH-12"))
	require.Equal(t, "Deploy of acme/payments@\u200Bf95f852 to production success", escape.Mermaid("Deploy of acme/payments@f95f852 to production: success"))
	require.Equal(t, "x init  y", escape.Mermaid("x %%{init}%% ```\ny"), "no directive, no fence")
	require.Equal(t, "https://acme.pagerduty.com/incidents/PX", escape.URL("https://acme.pagerduty.com/incidents/PX"))
	for _, bad := range []string{"javascript:alert(1)", "data:text/html,x", "/relative", "https://x.example/a)(b", "ftp://x.example/f", "https://x.example/a|@org/team"} {
		require.Empty(t, escape.URL(bad), bad)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		in := hostile(r)
		title := escape.Title(in)
		require.False(t, activeMention.MatchString(title), "title %q from %q", title, in)
		require.False(t, activeGHReference.MatchString(title), "title %q from %q", title, in)
		require.NotContains(t, title, "\n")
		m := escape.Mermaid(in)
		require.False(t, strings.ContainsAny(m, ":`%\n"), "mermaid %q from %q", m, in)
	}
}

// checkTitle asserts what a title must never contain.
func checkTitle(t *testing.T, in, title string) {
	t.Helper()
	require.False(t, activeMention.MatchString(title), "title %q from %q", title, in)
	require.False(t, activeGHReference.MatchString(title), "title %q from %q", title, in)
	require.NotContains(t, title, "\n")
}

func FuzzTitle(f *testing.F) {
	for _, seed := range []string{"@oncall: DB #5\ndown", "GH-12", "&#64;x", "a\u202Eb"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) { checkTitle(t, in, escape.Title(in)) })
}

// A Mermaid label never holds what Mermaid reads as syntax, nor a fence.
func FuzzMermaid(f *testing.F) {
	for _, seed := range []string{"13:10 deploy", "x %%{init}%% ```\ny", "@a #1", "[a](b)"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m := escape.Mermaid(in)
		require.False(t, strings.ContainsAny(m, ":;%#`\"'<>{}[]()|&\\\n\r"), "mermaid %q from %q", m, in)
		require.False(t, activeMention.MatchString(strings.ReplaceAll(m, "#", "")), "mention in %q", m)
	})
}

// A URL the hub links to is an absolute http(s) URL that cannot end the
// markdown link around it.
func FuzzURL(f *testing.F) {
	for _, seed := range []string{"https://acme.pagerduty.com/incidents/PX", "javascript:alert(1)", "https://x.example/a)(b", "http://h/p?q=1#f"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u := escape.URL(in)
		if u == "" {
			return
		}
		require.Equal(t, in, u)
		// Schemes are case-insensitive (RFC 3986): hTtp:// is http://.
		lower := strings.ToLower(u)
		require.True(t, strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://"), u)
		require.False(t, strings.ContainsAny(u, " <>()[]`\"'\\\n|"), u)
	})
}
