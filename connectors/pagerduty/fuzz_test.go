package pagerduty_test

import (
	"strings"
	"testing"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/connectortest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
)

func FuzzVerifier(f *testing.F) {
	connectortest.FuzzVerifier(f, pagerduty.NewVerifier(config.Secrets("fuzz-secret")), pagerduty.SignatureHeader,
		"fuzz-secret", "v1=00,v0="+strings.Repeat("ab", 32), pagerduty.Sign, connectortest.Fixtures(f, "pagerduty"))
}

func FuzzNormalize(f *testing.F) {
	connectortest.FuzzNormalize(f, pagerduty.Normalizer{}, func(string) string { return "" }, connectortest.Fixtures(f, "pagerduty"))
}
