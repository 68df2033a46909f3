// Command incidenthub receives PagerDuty, GitHub and Jira webhooks,
// correlates them into incident records, and serves them to people.
package main

import (
	"fmt"
	"os"
)

// version, commit and buildDate are set at build time (-ldflags "-X
// main.version=…"; the Makefile and the Dockerfile pass them). Without a
// commit, Go's own VCS stamp is used when the build made one.
var (
	version   = "dev"
	commit    = ""
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
