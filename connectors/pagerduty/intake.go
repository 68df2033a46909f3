// Package pagerduty receives PagerDuty v3 webhooks and turns them into
// page events.
package pagerduty

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Header names PagerDuty sends with v3 webhooks.
// https://developer.pagerduty.com/docs/webhooks (Verifying Signatures, Behavior)
const (
	SignatureHeader = "X-PagerDuty-Signature"
	// WebhookIDHeader is repeated on every retry of a delivery.
	WebhookIDHeader = "X-Webhook-Id"
)

// Verifier checks X-PagerDuty-Signature against every configured secret.
type Verifier struct {
	secrets []config.Secret
}

var _ inbox.Verifier = (*Verifier)(nil)

// NewVerifier returns a verifier for the given secrets; several secrets
// allow a zero-downtime rotation.
func NewVerifier(secrets []config.Secret) *Verifier {
	return &Verifier{secrets: secrets}
}

// Source implements inbox.Verifier.
func (*Verifier) Source() incident.Source { return incident.SourcePagerDuty }

// Verify reports whether the header carries a v1 signature (HMAC-SHA256 of
// the raw body, hex) made with any configured secret, as inbox.MatchHMAC
// checks it (an empty secret verifies nothing). The header may hold several
// comma-separated signatures; schemes other than v1 are ignored.
func (v *Verifier) Verify(h http.Header, body []byte) bool {
	return inbox.MatchHMAC(body, v.secrets, inbox.Sums(h.Get(SignatureHeader), "v1="))
}

// Signed implements inbox.Verifier: at least one well-formed v1 signature.
func (*Verifier) Signed(h http.Header) bool {
	return len(inbox.Sums(h.Get(SignatureHeader), "v1=")) > 0
}

// Identify implements inbox.Verifier: the delivery id is X-Webhook-Id.
// Without it the inbox falls back to a hash of the body, and processing
// deduplicates on event.id as well.
func (*Verifier) Identify(h http.Header) (id, event string) {
	return h.Get(WebhookIDHeader), ""
}

// Sign returns an X-PagerDuty-Signature value for body, as PagerDuty
// computes it: for sending sample deliveries and for tests.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}
