package escape_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/escape"
)

// unquoteJQL reads one JQL string literal as Jira's lexer does and returns
// its value and what follows it.
func unquoteJQL(t *testing.T, s string) (value, rest string) {
	t.Helper()
	require.True(t, strings.HasPrefix(s, `"`), s)
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			require.Less(t, i, len(s), "a dangling escape in %q", s)
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	t.Fatalf("unterminated string %q", s)
	return "", ""
}

// A quoted value is read back as itself and nothing follows it: no value
// can end the string and add a clause.
func FuzzJQLString(f *testing.F) {
	for _, seed := range []string{`inc-12`, `a" OR labels = "x`, `\\`, `\"`, "a\nb"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		quoted, err := escape.JQLString(in)
		if err != nil {
			return // a control character: refused, never quoted
		}
		value, rest := unquoteJQL(t, quoted)
		require.Equal(t, in, value)
		require.Empty(t, rest)
	})
}

func TestJQLStringNeverEscapes(t *testing.T) {
	t.Parallel()
	pieces := []string{`"`, `\`, `'`, " OR ", "labels", "=", "inc-12", " AND project = OPS", `\"`, "(", ")", "~", "!", "ü", "*"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := b.String()
		quoted, err := escape.JQLString(in)
		require.NoError(t, err)
		value, rest := unquoteJQL(t, quoted)
		require.Equal(t, in, value)
		require.Empty(t, rest)
	}
	for _, bad := range []string{"a\nOR b", "a\rb", "a\x00b", "a\u2028b"} {
		_, err := escape.JQLString(bad)
		require.Error(t, err, "%q", bad)
	}
}

// Jira wiki text never links, mentions, embeds or runs a macro, and stays
// on its line.
func TestJiraWikiNeverActive(t *testing.T) {
	t.Parallel()
	pieces := []string{"[~accountid:5b10]", "[link|https://e.example]", "{code}", "{noformat}", "!img.png!", "*bold*", "_em_",
		"-strike-", "h1. ", "\n", "\r\n", "|", "(y)", ":)", "@ana", "#1", "\\", "bq. ", "{{mono}}", " "}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		checkWiki(t, b.String())
	}
	require.Equal(t, `\[\~accountid\:x\] \{code\}`, escape.JiraWiki("[~accountid:x] {code}"))
	// Jira's own constructs (confluence.atlassian.com "Text formatting
	// notation"), each inert once escaped.
	for in, want := range map[string]string{
		"[~ana]":                 `\[\~ana\]`,
		"[click|https://e.x/]":   `\[click\|https\://e.x/\]`,
		"!https://e.x/b.png!":    `\!https\://e.x/b.png\!`,
		"{color:red}x{color}":    `\{color\:red\}x\{color\}`,
		"*bold* _em_ -del- +in+": `\*bold\* \_em\_ \-del\- \+in\+`,
		"??cite?? ^sup^ ~sub~":   `\?\?cite\?\? \^sup\^ \~sub\~`,
		"(y) (!) :)":             `\(y\) \(\!\) \:\)`,
		"a\nh1. b":               `a h1. b`,
	} {
		require.Equal(t, want, escape.JiraWiki(in), in)
	}
	require.Equal(t, "one two", escape.JiraSummary("one\ntwo"))
	require.Len(t, []rune(escape.JiraSummary(strings.Repeat("é", 400))), 255)
}

// checkWiki asserts that every markup character of escaped text is
// preceded by a backslash that is not itself escaped, on one line.
func checkWiki(t *testing.T, in string) {
	t.Helper()
	out := escape.JiraWiki(in)
	require.NotContains(t, out, "\n")
	require.NotContains(t, out, "\r")
	for i := 0; i < len(out); i++ {
		if out[i] == '\\' {
			i++
			continue
		}
		require.NotContains(t, "*_?+^~|{}[]!-#():", string(out[i]), "unescaped %q in %q", out[i], out)
	}
}

func FuzzJiraWiki(f *testing.F) {
	for _, seed := range []string{"[~accountid:5b10]", "{code}", "!img.png!", "(y) :)", "a\nh1. b", "\\[x]"} {
		f.Add(seed)
	}
	f.Fuzz(checkWiki)
}
