package connectortest

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Fixtures returns the vendor's published payloads in the repository's
// testdata/<vendor>, by file name: the seeds of the connectors' fuzz
// targets.
func Fixtures(f *testing.F, vendor string) map[string][]byte {
	f.Helper()
	_, file, _, _ := runtime.Caller(0)
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "testdata", vendor, "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no %s fixtures: %v", vendor, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out[filepath.Base(p)] = raw
	}
	return out
}

// Verifier is a connector's signature check, as the inbox uses it.
type Verifier interface {
	Signed(h http.Header) bool
	Verify(h http.Header, body []byte) bool
}

// FuzzVerifier fuzzes a connector's signature check, made with secret,
// whose signature is in header and made by sign: whatever the header
// holds, it never panics, never verifies what Signed refuses, and always
// verifies a body carrying its true signature. Seeds are the fixtures,
// unsigned, signed, and with malformed.
func FuzzVerifier(f *testing.F, v Verifier, header, secret, malformed string, sign func(secret string, body []byte) string, seeds map[string][]byte) {
	for _, body := range seeds {
		f.Add("", body)
		f.Add(sign(secret, body), body)
		f.Add(malformed, body)
	}
	f.Fuzz(func(t *testing.T, value string, body []byte) {
		h := http.Header{}
		h.Set(header, value)
		if v.Verify(h, body) && !v.Signed(h) {
			t.Fatalf("verified what Signed refuses: %q", value)
		}
		h.Set(header, sign(secret, body))
		if !v.Verify(h, body) {
			t.Fatalf("a true signature refused: %q", h.Get(header))
		}
	})
}

// Normalizer turns a stored delivery into events.
type Normalizer interface {
	Source() incident.Source
	Normalize(d delivery.Delivery) ([]incident.Event, error)
}

// FuzzNormalize fuzzes a connector's normaliser: whatever a signed
// delivery holds, under whatever event name, it never panics, and what it
// yields is events of its source with a type. Seeds are the fixtures,
// under the event name eventOf gives each file name ("" when the vendor
// names the event in the body).
func FuzzNormalize(f *testing.F, n Normalizer, eventOf func(file string) string, seeds map[string][]byte) {
	for name, body := range seeds {
		f.Add(eventOf(name), body)
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		events, err := n.Normalize(delivery.Delivery{Source: n.Source(), ID: "fuzz", Event: event, Body: body})
		if err != nil {
			if len(events) > 0 {
				t.Fatalf("events with an error: %v", err)
			}
			return
		}
		for _, ev := range events {
			if ev.Source != n.Source() || ev.Type == "" {
				t.Fatalf("event %+v from a %s delivery", ev, n.Source())
			}
		}
	})
}
