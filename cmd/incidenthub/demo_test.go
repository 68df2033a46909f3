package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The demo tells the whole loop offline and leaves nothing behind; with
// --keep, the record stays for the other commands to read.
func TestDemo(t *testing.T) {
	sqlitePassOnly(t, "the demo runs on an embedded SQLite store of its own")
	t.Parallel()
	out := cli(t, "demo", "--speed", "20")
	for _, want := range []string{
		"[ 1/10]", "sent to PagerDuty's recent changes", "one record, INC-1 (SEV2)", "a triage note on each page",
		"the first to acknowledge leads: PIG 208", "a short note on each page", "acme/incidents#1",
		"exactly one Jira ticket, PAY-1", "its box in the review doc is ticked", "[10/10]", "the record is closed",
		"INC-1  Checkout API: 5xx above 2%\n  status     closed", "<!-- incidenthub:incident INC-1 ",
		"- [x] [PAY-1]", "POST /incidents/PDEMO0001/notes", "POST /v2/change/enqueue", "POST /repos/acme/incidents/issues\n",
		"POST /rest/api/2/issue\n",
	} {
		require.Contains(t, out, want)
	}
	dir := regexp.MustCompile(`with a store in (\S+) \(removed at the end`).FindStringSubmatch(out)
	require.NotNil(t, dir, out)
	_, err := os.Stat(dir[1])
	require.ErrorIs(t, err, os.ErrNotExist, "nothing left behind")

	keep := filepath.Join(t.TempDir(), "demo")
	cli(t, "demo", "--speed", "20", "--keep", keep)
	show := cli(t, "incidents", "show", "INC-1", "--config", filepath.Join(keep, "incidenthub.yaml"))
	require.Contains(t, show, "status     closed")
	require.Contains(t, cliErr(t, "demo", "--keep", keep), "want a new or empty directory")
}

// The embedded payloads are the repository's testdata, unchanged.
func TestDemoDataAreCopies(t *testing.T) {
	t.Parallel()
	entries, err := demoData.ReadDir("demodata")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		vendor, name, _ := strings.Cut(e.Name(), ".")
		embedded, err := demoData.ReadFile("demodata/" + e.Name())
		require.NoError(t, err)
		original, err := os.ReadFile(filepath.Join("..", "..", "testdata", vendor, name))
		require.NoError(t, err)
		require.Equal(t, string(original), string(embedded), e.Name())
	}
}
