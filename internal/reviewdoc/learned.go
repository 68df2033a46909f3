package reviewdoc

import (
	"strings"
)

// LearningSections are the built-in template's sections that only people
// write, by the key reports use: whether they were filled in is what the
// practice calls a signal of learning, more than any action item.
var LearningSections = []struct{ Key, Heading string }{
	{"who_knew", "## Who knew what, when, and how did they know it?"},
	{"surprised", "## How did our systems surprise us?"},
	{"went_well", "## What went well?"},
	{"difficult", "## What made it difficult?"},
	{"contributing_factors", "## Contributing factors"},
	{"learnings", "## Learnings"},
}

// Learned returns the keys of the LearningSections that people filled in
// in a review's text, in that order. A section counts when it holds a line
// other than the template's italic prompt and HTML comments. A custom
// template's own headings are not recognised.
func Learned(body string) []string {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	var out []string
	for _, s := range LearningSections {
		start := -1
		for i, l := range lines {
			if strings.TrimSpace(l) == s.Heading {
				start = i + 1
				break
			}
		}
		if start < 0 {
			continue
		}
		for _, l := range lines[start:] {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") {
				break
			}
			if written(l) {
				out = append(out, s.Key)
				break
			}
		}
	}
	return out
}

// written reports whether a line is something people wrote: not blank,
// not the template's prompt (one italic line), not a comment.
func written(l string) bool {
	switch {
	case l == "":
		return false
	case len(l) > 1 && strings.HasPrefix(l, "_") && strings.HasSuffix(l, "_"):
		return false
	case strings.HasPrefix(l, "<!--") && strings.HasSuffix(l, "-->"):
		return false
	}
	return true
}
