package github_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// fixtures are the vendor's published payloads in testdata: the seeds.
func fixtures(f *testing.F) map[string][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "github", "*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(f, err)
		out[filepath.Base(p)] = raw
	}
	return out
}

// Whatever the header holds, the verifier never panics, never verifies
// what Signed refuses, and always verifies a body that also carries its
// true signature.
func FuzzVerifier(f *testing.F) {
	for _, body := range fixtures(f) {
		f.Add("", body)
		f.Add(github.Sign("fuzz-secret", body), body)
		f.Add("sha256=00", body)
	}
	f.Add("sha256="+strings.Repeat("ab", 32)+",,sha256=", []byte("{}"))
	v := github.NewVerifier([]config.Secret{"fuzz-secret"})
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		h := http.Header{}
		h.Set(github.SignatureHeader, header)
		if v.Verify(h, body) {
			require.True(t, v.Signed(h), "verified what Signed refuses: %q", header)
		}
		h.Set(github.SignatureHeader, github.Sign("fuzz-secret", body))
		require.True(t, v.Verify(h, body))
	})
}

// Whatever a signed delivery holds, under whatever event name, normalising
// it never panics, and what it yields is GitHub's.
func FuzzNormalize(f *testing.F) {
	for name, body := range fixtures(f) {
		// The event name is the fixture's name up to its first dot.
		event, _, _ := strings.Cut(name, ".")
		f.Add(event, body)
		f.Add(event, append([]byte("payload="), body...))
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		events, err := github.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourceGitHub, ID: "fuzz", Event: event, Body: body})
		if err != nil {
			require.Empty(t, events)
			return
		}
		for _, ev := range events {
			require.Equal(t, incident.SourceGitHub, ev.Source)
			require.NotEmpty(t, ev.Type)
		}
	})
}
