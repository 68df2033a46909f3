package reviewdoc_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/reviewdoc"
)

const edited = "## Learnings\n- [ ] a learning, not a follow-up\n\n" +
	"### Follow-ups\n\n_prompt_\n\n- [ ] Alert on pool saturation\r\n* [ ]  Pair   on the pool code\n- [x] done by hand\n" +
	"```\n- [ ] inside a fence\n```\n" +
	"<!-- incidenthub:followups:start -->\n- [ ] [PAY-1](https://x.example/browse/PAY-1): hub's own\n<!-- incidenthub:followups:end -->\n" +
	"#### Details\n- [ ] a sub-heading still belongs to Follow-ups\n" +
	"## Playbook\n- [ ] not under Follow-ups\n"

func TestTaskItems(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"Alert on pool saturation", "Pair   on the pool code", "a sub-heading still belongs to Follow-ups"},
		reviewdoc.TaskItems(edited))
	require.Empty(t, reviewdoc.TaskItems("- [ ] no heading at all"))
}

// Filed items move into the hub's list: their lines go, nothing else moves.
func TestRemoveTaskItems(t *testing.T) {
	t.Parallel()
	out := reviewdoc.RemoveTaskItems(edited, []string{"pair on the POOL code", "Alert on pool saturation", "not under Follow-ups", "hub's own"})
	require.NotContains(t, out, "Alert on pool saturation")
	require.NotContains(t, out, "Pair   on the pool code")
	require.Contains(t, out, "- [ ] not under Follow-ups", "outside the section")
	require.Contains(t, out, "hub's own", "inside the hub's section")
	require.Contains(t, out, "- [ ] inside a fence")
	require.Equal(t, len(strings.Split(edited, "\n"))-2, len(strings.Split(out, "\n")))
	require.Equal(t, edited, reviewdoc.RemoveTaskItems(edited, nil))
}

// A doc opened before the hub listed follow-ups gets the section under its
// Follow-ups heading rather than a "markers removed" comment.
func TestSpliceAddsFollowUpsToOlderDocs(t *testing.T) {
	t.Parallel()
	in := realistic()
	doc, err := reviewdoc.Render(in)
	require.NoError(t, err)
	older := regexp.MustCompile(`(?s)\n<!-- incidenthub:followups:start -->.*<!-- incidenthub:followups:end -->\n`).ReplaceAllString(doc, "")
	require.NotContains(t, older, "followups:start")
	in.Record.FollowUps[0].Status = incident.FollowUpOpen
	fresh, err := reviewdoc.Render(in)
	require.NoError(t, err)
	spliced, err := reviewdoc.Splice(older, fresh)
	require.NoError(t, err)
	heading := strings.Index(spliced, "## Follow-ups")
	section := strings.Index(spliced, "<!-- incidenthub:followups:start -->")
	require.Greater(t, section, heading)
	require.Less(t, section, strings.Index(spliced, "## Playbook"))
	again, err := reviewdoc.Splice(spliced, fresh)
	require.NoError(t, err)
	require.Equal(t, spliced, again)
}

// Lines the hub rendered, left behind when people deleted the section's
// markers, are not new requests.
func TestTaskItemsSkipsHubLines(t *testing.T) {
	t.Parallel()
	body := "## Follow-ups\n- [ ] [PAY-1](https://x.example/browse/PAY-1): Alert (To Do)\n" +
		"- [x] ~~[PAY-2](https://x.example/browse/PAY-2): Old~~ (won't do)\n- [ ] _being filed in Jira_: Pair up\n- [ ] A new one\n"
	require.Equal(t, []string{"A new one"}, reviewdoc.TaskItems(body))
}

// A removed item takes its indented continuation with it; a long item is
// recognised by its clipped title.
func TestRemoveTaskItemsWholeItem(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("very long item ", 20)
	body := "## Follow-ups\n- [ ] Alert on pool saturation\n  with a note below it\n  - [ ] and a sub-task\n- [ ] Keep me\n- [ ] " + long + "\n"
	out := reviewdoc.RemoveTaskItems(body, []string{"Alert on pool saturation", incident.ClipTitle(strings.TrimSpace(long))})
	require.Equal(t, "## Follow-ups\n- [ ] Keep me\n", out)
}
