package github_test

import (
	"strings"
	"testing"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/connectortest"
	"github.com/incidenthub/incidenthub/connectors/github"
)

func FuzzVerifier(f *testing.F) {
	connectortest.FuzzVerifier(f, github.NewVerifier(config.Secrets("fuzz-secret")), github.SignatureHeader,
		"fuzz-secret", "sha256=00", github.Sign, connectortest.Fixtures(f, "github"))
}

// The event name is the fixture's name up to its first dot; a delivery
// can also come form-encoded.
func FuzzNormalize(f *testing.F) {
	eventOf := func(file string) string { event, _, _ := strings.Cut(file, "."); return event }
	seeds := map[string][]byte{}
	for name, body := range connectortest.Fixtures(f, "github") {
		seeds[name], seeds["form-"+name] = body, append([]byte("payload="), body...)
	}
	connectortest.FuzzNormalize(f, github.Normalizer{}, func(file string) string { return eventOf(strings.TrimPrefix(file, "form-")) }, seeds)
}
