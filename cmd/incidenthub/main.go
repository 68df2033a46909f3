// Command incidenthub receives PagerDuty, GitHub and Jira webhooks,
// correlates them into incident records, and serves them to people.
package main

import (
	"fmt"
	"os"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

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
