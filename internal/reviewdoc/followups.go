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
	// hubItem is a line as the hub renders it in its list: left behind
	// when people delete the section's markers, it is not a new request.
	jiraKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]*-[0-9]+$`)
	hubItem = regexp.MustCompile(`^(~~)?(\[[A-Z][A-Z0-9_]*\\?-[0-9]+\]\(|_being filed in Jira_)`)
)

// TaskItems returns the unchecked task-list items that people wrote under
// the doc's Follow-ups heading, outside the hub's sections and code
// fences: each asks for a follow-up.
func TaskItems(body string) []string {
	var (
		items          []string
		level          = 0 // the heading's level while inside the section
		inHub, inFence bool
	)
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		switch {
		case fence.MatchString(line):
			inFence = !inFence
			continue
		case inFence:
			continue
		case strings.Contains(line, "<!-- incidenthub:") && strings.Contains(line, ":start -->"):
			inHub = true
			continue
		case strings.Contains(line, "<!-- incidenthub:") && strings.Contains(line, ":end -->"):
			inHub = false
			continue
		}
		if m := followUpsHeading.FindStringSubmatch(line); m != nil {
			level = len(m[1])
			continue
		}
		if m := anyHeading.FindStringSubmatch(line); m != nil && len(m[1]) <= level {
			level = 0
		}
		if level == 0 || inHub {
			continue
		}
		if m := openTask.FindStringSubmatch(line); m != nil && !hubItem.MatchString(m[1]) {
			items = append(items, strings.TrimSpace(m[1]))
		}
	}
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
		remove[normalize(t)] = true
	}
	lines := strings.Split(body, "\n")
	out := lines[:0]
	level, inHub, inFence := 0, false, false
	dropIndent := -1 // while >= 0, lines indented more than this continue a removed item
	for _, line := range lines {
		bare := strings.TrimSuffix(line, "\r")
		if dropIndent >= 0 {
			if strings.TrimSpace(bare) != "" && indent(bare) > dropIndent {
				continue
			}
			dropIndent = -1
		}
		keep := true
		switch {
		case fence.MatchString(bare):
			inFence = !inFence
		case inFence:
		case strings.Contains(bare, "<!-- incidenthub:") && strings.Contains(bare, ":start -->"):
			inHub = true
		case strings.Contains(bare, "<!-- incidenthub:") && strings.Contains(bare, ":end -->"):
			inHub = false
		default:
			if m := followUpsHeading.FindStringSubmatch(bare); m != nil {
				level = len(m[1])
			} else if m := anyHeading.FindStringSubmatch(bare); m != nil && len(m[1]) <= level {
				level = 0
			} else if m := openTask.FindStringSubmatch(bare); m != nil && level > 0 && !inHub &&
				(remove[normalize(m[1])] || remove[normalize(incident.ClipTitle(strings.TrimSpace(m[1])))]) {
				keep, dropIndent = false, indent(bare)
			}
		}
		if keep {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// normalize compares task texts as people retype them: case and spacing aside.
func normalize(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

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
