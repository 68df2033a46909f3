// Package escape neutralises untrusted text (page titles, notes, PR titles)
// before the hub echoes it into GitHub, so that echoing never pings anyone,
// links an issue, loads an image, or breaks the document around it.
package escape

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// zwsp (zero-width space) after @ and # keeps GitHub from reading a
// mention or an issue reference, while the text reads the same.
const zwsp = "\u200B"

// ghReference is GitHub's other form of an issue reference: GH-12.
var ghReference = regexp.MustCompile(`(?i)\b(gh)-(\d)`)

// unlinkGH puts a zero-width space inside "GH-12", as "#" gets one.
func unlinkGH(s string) string { return ghReference.ReplaceAllString(s, "${1}"+zwsp+"-${2}") }

// Markdown renders untrusted text as inline GitHub-flavoured markdown that
// displays as the text and does nothing else:
//   - HTML entities are decoded first, so "&#64;team" cannot slip through
//     as a mention after GitHub decodes it;
//   - "@" and "#" are followed by a zero-width space, and "GH-12" gets
//     one before its "-" (no mentions, no issue or pull request
//     references);
//   - markdown and HTML syntax is escaped (no links, no images and so no
//     beacons, no raw HTML, no code spans, no emphasis);
//   - line breaks become spaces and control and bidi characters are
//     dropped, so the text stays on its line (inside a table cell too).
func Markdown(s string) string {
	s = unlinkGH(oneLine(s))
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s {
		switch {
		case r == '@' || r == '#':
			b.WriteRune(r)
			b.WriteString(zwsp)
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case strings.ContainsRune("\\`*_{}[]()!|~+-.:", r):
			// ":" keeps "javascript:" and autolinked schemes inert; "."
			// and "-" and "+" keep list and heading syntax inert.
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Title renders untrusted text for a GitHub issue title, which GitHub
// shows as plain text: no mentions or references (a zero-width space after
// @ and #), one line, no control or bidi characters, and nothing escaped
// that would show its backslash.
func Title(s string) string {
	var b strings.Builder
	for _, r := range unlinkGH(oneLine(s)) {
		switch {
		case r == '@' || r == '#':
			b.WriteRune(r)
			b.WriteString(zwsp)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Mermaid renders untrusted text as a label inside a Mermaid diagram: the
// characters Mermaid reads as syntax (":" separates a timeline's events,
// "%%" starts a comment, brackets and quotes shape nodes) and backticks
// (which could close the code fence) are removed, on one line.
func Mermaid(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch {
		case strings.ContainsRune(":;%#`\"'<>{}[]()|&\\", r):
		case r == '@':
			b.WriteString("@" + zwsp)
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// URL returns u if it is an absolute http(s) URL safe to put in a
// markdown link, else "". The hub links to what payloads name but never
// fetches it; other schemes (javascript:, data:) are dropped.
func URL(u string) string {
	p, err := url.Parse(u)
	// "|" would end a table cell, and what follows could be read as text.
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || strings.ContainsAny(u, " <>()[]`\"'\\\n|") {
		return ""
	}
	return u
}

// Slug renders untrusted text as a file name: lower case ASCII letters
// and digits, words joined by hyphens, whole words up to max characters
// (a word longer than max is cut).
func Slug(s string, max int) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r >= unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := strings.Join(words, "-")
	if len(out) <= max {
		return out
	}
	out = out[:max]
	if i := strings.LastIndexByte(out, '-'); i > 0 {
		out = out[:i]
	}
	return out
}

// OneLine renders untrusted text as plain text on one line where GitHub
// shows it as typed, without linking mentions or references (the front
// matter of a committed file): no control or bidi characters, which would
// hide or reorder what is read.
func OneLine(s string) string { return oneLine(s) }

// oneLine decodes HTML entities (so that "&#64;" cannot slip through as
// "@" after GitHub decodes it), turns line breaks into spaces, and drops
// control and bidi characters, which are invisible and can reorder or
// break a line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029':
			return -1
		}
		return r
	}, html.UnescapeString(s))
}

// Truncate shortens s to at most n runes, on a rune boundary, marking the
// cut. Apply it before Markdown, so that an escape is never cut in half.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n-1, 0)]) + "…"
}

// JiraWiki renders untrusted text inside Jira wiki markup (the
// description of a ticket filed through REST v2) as the text itself, on
// one line: the characters Jira reads as markup (links and mentions in
// [], macros in {}, images in !!, emphasis, emoticons such as (y) and :))
// are escaped with a backslash, which Jira drops on display.
func JiraWiki(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune("\\*_?+^~|{}[]!-#():", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// JiraSummary renders untrusted text as a Jira summary, which Jira shows
// as plain text: one line, no control or bidi characters, at most 255
// characters.
func JiraSummary(s string) string { return strings.TrimSpace(Truncate(oneLine(s), 255)) }

// JQLString quotes a value for a JQL query, so that nothing in it can end
// the string and add clauses: backslashes and double quotes are escaped,
// and line breaks and control characters, which JQL strings cannot hold,
// are refused.
func JQLString(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
		return "", fmt.Errorf("JQL value %q holds a control character", s)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
}
