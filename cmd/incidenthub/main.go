// Command incidenthub receives PagerDuty, GitHub and Jira webhooks,
// correlates them into incident records, and serves them to people.
package main

import (
	"fmt"
	"os"
)

// version and buildDate are set at build time (-ldflags "-X
// main.version=… -X main.buildDate=…"); the commit comes from Go's own
// stamp.
var (
	version   = "dev"
	buildDate = ""
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "incidenthub:", err)
		return 1
	}
	return 0
}
