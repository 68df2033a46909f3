package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/incident"
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

// termWidth is the terminal every table fits.
const termWidth = 80

// minLast is the least room the last column gets, however wide the others.
const minLast = 20

// writeTable prints items aligned under a header, or none when there are
// no items: the shape of every list command. Tables fit termWidth: the
// last column (a title, a summary) is cut to the room left.
func writeTable[T any](w io.Writer, none string, header []string, items []T, cells func(T) []string) error {
	return table(w, none, header, items, cells, false)
}

// writeTableNotes is writeTable for tables whose last column is a reason
// that matters (why a job waits, why a delivery failed): never cut, it
// goes whole on indented lines under its row when it does not fit.
func writeTableNotes[T any](w io.Writer, none string, header []string, items []T, cells func(T) []string) error {
	return table(w, none, header, items, cells, true)
}

func table[T any](w io.Writer, none string, header []string, items []T, cells func(T) []string, notes bool) error {
	if len(items) == 0 {
		fprintf(w, "%s\n", none)
		return nil
	}
	rows := [][]string{header}
	for _, it := range items {
		rows = append(rows, cells(it))
	}
	last := len(header) - 1
	widths := make([]int, last)
	for _, row := range rows {
		for i := range widths {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i]))
		}
	}
	room := termWidth
	for _, width := range widths {
		room -= width + 2
	}
	room = max(room, minLast)
	var b strings.Builder
	for _, row := range rows {
		for i, width := range widths {
			b.WriteString(row[i])
			b.WriteString(strings.Repeat(" ", width-utf8.RuneCountInString(row[i])+2))
		}
		cell := row[last]
		var below []string
		switch {
		case utf8.RuneCountInString(cell) <= room:
		case notes:
			cell, below = "", wrap(cell, termWidth-4)
		default:
			cell = clip(cell, room)
		}
		b.WriteString(strings.TrimRight(cell, " "))
		line := strings.TrimRight(b.String(), " ")
		b.Reset()
		fprintf(w, "%s\n", line)
		for _, l := range below {
			fprintf(w, "    %s\n", l)
		}
	}
	return nil
}

// wrap breaks text into lines of at most width runes, at spaces where it
// can.
func wrap(text string, width int) []string {
	var lines []string
	var line []rune
	for _, word := range strings.Fields(text) {
		w := []rune(word)
		for len(w) > width {
			if len(line) > 0 {
				lines, line = append(lines, string(line)), nil
			}
			lines, w = append(lines, string(w[:width])), w[width:]
		}
		if len(line) > 0 && len(line)+1+len(w) > width {
			lines, line = append(lines, string(line)), nil
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, w...)
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// unconfigured says which of a list's filter values the configuration
// does not name, for an empty list: a typo reads "no incidents" otherwise.
// Values are not refused, since records of a service or severity removed
// from the configuration stay readable.
func unconfigured(cfg *config.Config, service, severity string) string {
	var notes []string
	if service != "" && service != incident.UnmappedService &&
		!slices.ContainsFunc(cfg.Services, func(s config.Service) bool { return s.Name == service }) {
		names := []string{}
		for _, s := range cfg.Services {
			names = append(names, s.Name)
		}
		notes = append(notes, fmt.Sprintf("service %q is not configured (configured: %s)", printable(service), strings.Join(append(names, incident.UnmappedService), ", ")))
	}
	if severity != "" && !slices.ContainsFunc(cfg.Severities, func(s config.Severity) bool { return s.Name == severity }) {
		names := []string{}
		for _, s := range cfg.Severities {
			names = append(names, s.Name)
		}
		notes = append(notes, fmt.Sprintf("severity %q is not configured (configured: %s)", printable(severity), strings.Join(names, ", ")))
	}
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}
