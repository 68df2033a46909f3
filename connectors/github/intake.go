// Package github receives GitHub webhooks (deploys, merges, releases),
// turns them into changes, and recovers deliveries GitHub failed to make.
package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Headers GitHub sends with every delivery.
// https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers
const (
	SignatureHeader = "X-Hub-Signature-256"
	EventHeader     = "X-GitHub-Event"
	// DeliveryHeader is a GUID that a redelivery keeps.
	DeliveryHeader = "X-GitHub-Delivery"
)

// Verifier checks X-Hub-Signature-256 against every configured secret.
type Verifier struct {
	secrets []config.Secret
}

var _ inbox.Verifier = (*Verifier)(nil)

// NewVerifier returns a verifier for the secrets (several during rotation).
func NewVerifier(secrets []config.Secret) *Verifier { return &Verifier{secrets: secrets} }

// Source implements inbox.Verifier.
func (*Verifier) Source() incident.Source { return incident.SourceGitHub }

// Verify reports whether the header carries sha256=<hex>, the HMAC-SHA256
// of the raw body made with any configured secret, as inbox.MatchHMAC
// checks it (an empty secret verifies nothing). The body is signed as it
// arrived, whatever its Content-Type: a form-encoded delivery is unwrapped
// later, by the normalizer, and a signed delivery is never refused for its
// Content-Type.
func (v *Verifier) Verify(h http.Header, body []byte) bool {
	return inbox.MatchHMAC(body, v.secrets, inbox.Sums(h.Get(SignatureHeader), "sha256="))
}

// Signed implements inbox.Verifier: one well-formed sha256= signature.
func (*Verifier) Signed(h http.Header) bool {
	return len(inbox.Sums(h.Get(SignatureHeader), "sha256=")) > 0
}

// Identify implements inbox.Verifier.
func (*Verifier) Identify(h http.Header) (id, event string) {
	return h.Get(DeliveryHeader), h.Get(EventHeader)
}

// Sign returns an X-Hub-Signature-256 value for body, as GitHub computes it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
