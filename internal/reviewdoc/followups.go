package reviewdoc

import (
	"regexp"
	"strings"

	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
)

var (
	followUpsHeading = regexp.MustCompile(`(?i)^(#{1,6})\s*follow[\s-]?ups?\s*#*\s*$`)
	anyHeading       = regexp.MustCompile(`^(#{1,6})\s`)
	openTask         = regexp.MustCompile(`^\s{0,3}[-*+]\s+\[ \]\s+(\S.*)$`)
	fence            = regexp.MustCompile("^\\s{0,3}(```|~~~)")
	jiraKey          = regexp.MustCompile(`^[A-Z][A-Z0-9_]*-[0-9]+$`)
	// hubItem is an item as the hub renders it in its list.
	hubItem = regexp.MustCompile(`^(~~)?(\[[A-Z][A-Z0-9_]*\\?-[0-9]+\]\(|_being filed in Jira_)`)
)

// openTasks calls visit with the index and text of each unchecked
// task-list item people wrote under the doc's Follow-ups heading (down to
// the next heading of its level or above), outside the hub's sections and
// code fences. Lines in the hub's rendered form, left behind when people
// delete a section's markers, are not theirs.
func openTasks(lines []string, visit func(i int, text string)) {
	level, inHub, inFence := 0, false, false // level: the heading's, while inside the section
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case fence.MatchString(line):
			inFence = !inFence
		case inFence:
		case strings.Contains(line, "<!-- incidenthub:") && strings.Contains(line, ":start -->"):
			inHub = true
		case strings.Contains(line, "<!-- incidenthub:") && strings.Contains(line, ":end -->"):
			inHub = false
		default:
			if m := followUpsHeading.FindStringSubmatch(line); m != nil {
				level = len(m[1])
			} else if m := anyHeading.FindStringSubmatch(line); m != nil && len(m[1]) <= level {
				level = 0
			} else if m := openTask.FindStringSubmatch(line); m != nil && level > 0 && !inHub && !hubItem.MatchString(m[1]) {
				visit(i, strings.TrimSpace(m[1]))
			}
		}
	}
}

// TaskItems returns the unchecked task-list items people wrote under the
// doc's Follow-ups heading: each asks for a follow-up.
func TaskItems(body string) []string {
	var items []string
	openTasks(strings.Split(body, "\n"), func(_ int, text string) { items = append(items, text) })
	return items
}

// RemoveTaskItems removes the unchecked task-list items with the given
// texts (case and spacing aside, long ones as clipped into titles) from
// under the Follow-ups heading, with their indented continuation lines:
// once filed, an item lives in the hub's list with its ticket, so that
// the doc keeps one checkbox per follow-up. Nothing else is touched.
func RemoveTaskItems(body string, texts []string) string {
	if len(texts) == 0 {
		return body
	}
	remove := map[string]bool{}
	for _, t := range texts {
		remove[incident.NormalTitle(t)] = true
	}
	lines := strings.Split(body, "\n")
	drop := map[int]bool{}
	openTasks(lines, func(i int, text string) {
		if !remove[incident.NormalTitle(text)] && !remove[incident.NormalTitle(incident.ClipTitle(text))] {
			return
		}
		drop[i] = true
		for j := i + 1; j < len(lines) && strings.TrimSpace(lines[j]) != "" && indent(lines[j]) > indent(lines[i]); j++ {
			drop[j] = true
		}
	})
	if len(drop) == 0 {
		return body
	}
	out := make([]string, 0, len(lines)-len(drop))
	for i, line := range lines {
		if !drop[i] {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// FollowUpRef is how the doc and the replies name a follow-up's ticket:
// its key linked, or that it is being filed.
func FollowUpRef(f *incident.FollowUp) string {
	if !f.Filed() {
		return "_being filed in Jira_"
	}
	key := f.JiraKey
	if !jiraKey.MatchString(key) {
		key = escape.Markdown(key) // never expected of Jira, but never trusted
	}
	return link(key, f.JiraURL)
}
