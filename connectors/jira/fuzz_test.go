package jira_test

import (
	"testing"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/connectortest"
	"github.com/incidenthub/incidenthub/connectors/jira"
)

func FuzzVerifier(f *testing.F) {
	connectortest.FuzzVerifier(f, jira.NewVerifier(config.Secrets("fuzz-secret")), jira.SignatureHeader,
		"fuzz-secret", "sha256=00", jira.Sign, connectortest.Fixtures(f, "jira"))
}

func FuzzNormalize(f *testing.F) {
	connectortest.FuzzNormalize(f, jira.Normalizer{}, func(string) string { return "" }, connectortest.Fixtures(f, "jira"))
}
