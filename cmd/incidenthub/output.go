package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

func fprintf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// printable makes untrusted text safe for a terminal: control characters
// (escape sequences among them) become spaces, so a payload cannot move
// the cursor, recolour or rewrite what the reader sees; bidirectional
// controls are dropped, so a payload cannot make the text it shows read
// in another order than it is (the "Trojan Source" trick).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		}
		return r
	}, s)
}

// printableLines is printable for text of several lines: line breaks
// and tabs stay.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(strings.ReplaceAll(l, "\t", "    "))
	}
	return strings.Join(lines, "\n")
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(printable(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// writeTable prints items aligned under a header, or none when there are
// no items: the shape of every list command.
func writeTable[T any](w io.Writer, none string, header []string, items []T, cells func(T) []string) error {
	if len(items) == 0 {
		fprintf(w, "%s\n", none)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fprintf(tw, "%s\n", strings.Join(header, "\t"))
	for _, it := range items {
		fprintf(tw, "%s\n", strings.Join(cells(it), "\t"))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
