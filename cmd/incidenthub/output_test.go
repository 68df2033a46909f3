package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Tables fit 80 columns: a last column is cut to the room left, unless it
// is a reason that matters, which goes whole under its row.
func TestTablesFitEightyColumns(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 40)
	rows := []string{"a", "b"}
	var b strings.Builder
	require.NoError(t, writeTable(&b, "none", []string{"NAME", "TITLE"}, rows, func(r string) []string { return []string{r, long} }))
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		require.LessOrEqual(t, len([]rune(line)), termWidth, line)
	}
	require.Contains(t, b.String(), "…")

	b.Reset()
	require.NoError(t, writeTableNotes(&b, "none", []string{"NAME", "WHY"}, rows, func(r string) []string { return []string{r, r + " " + long} }))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for _, line := range lines {
		require.LessOrEqual(t, len([]rune(line)), termWidth, line)
	}
	require.Equal(t, "NAME  WHY", lines[0])
	require.Equal(t, "a", lines[1])
	require.True(t, strings.HasPrefix(lines[2], "    a word word"), lines[2])
	var whole []string
	for _, l := range lines[2:] {
		if l == "b" {
			break
		}
		whole = append(whole, strings.TrimSpace(l))
	}
	require.Equal(t, strings.TrimSpace("a "+long), strings.Join(whole, " "), "nothing cut")

	b.Reset()
	require.NoError(t, writeTableNotes(&b, "none", []string{"NAME", "WHY"}, rows, func(r string) []string { return []string{r, "short"} }))
	require.Equal(t, "NAME  WHY\na     short\nb     short\n", b.String(), "a reason that fits stays on its row")
}
