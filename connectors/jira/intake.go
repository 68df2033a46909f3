// Package jira receives Jira webhooks about follow-up tickets, and files
// those tickets through go-jira, on Jira Cloud or Data Center.
package jira

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Headers of Jira admin webhooks. The signature is WebSub's: sha256=<hex>
// of an HMAC-SHA256 of the raw body keyed with the webhook's secret. The
// identifier is the same on every retry of a delivery.
const (
	SignatureHeader  = "X-Hub-Signature"
	IdentifierHeader = "X-Atlassian-Webhook-Identifier"
)

// Verifier checks X-Hub-Signature against every configured secret.
type Verifier struct {
	secrets []config.Secret
}

var _ inbox.Verifier = (*Verifier)(nil)

// NewVerifier returns a verifier; several secrets allow a rotation.
func NewVerifier(secrets []config.Secret) *Verifier { return &Verifier{secrets: secrets} }

// Source implements inbox.Verifier.
func (*Verifier) Source() incident.Source { return incident.SourceJira }

// Signed implements inbox.Verifier: one well-formed sha256= signature.
func (*Verifier) Signed(h http.Header) bool {
	return len(inbox.Sums(h.Get(SignatureHeader), "sha256=")) > 0
}

// Verify reports whether the header carries sha256=<hex>, the HMAC-SHA256
// of the raw body made with any configured secret, as inbox.MatchHMAC
// checks it (an empty secret verifies nothing).
func (v *Verifier) Verify(h http.Header, body []byte) bool {
	return inbox.MatchHMAC(body, v.secrets, inbox.Sums(h.Get(SignatureHeader), "sha256="))
}

// UnsignedHint implements inbox.UnsignedHinter. Webhooks that a Connect
// or OAuth 2.0 app registers (dynamic webhooks) carry a JWT in
// Authorization instead of an HMAC signature: they cannot be verified
// against a shared secret, so they are refused, saying what to set up
// instead. The token itself is never logged.
func (*Verifier) UnsignedHint(h http.Header) string {
	auth := h.Get("Authorization")
	if scheme, token, ok := strings.Cut(auth, " "); !ok || !strings.EqualFold(scheme, "JWT") &&
		!(strings.EqualFold(scheme, "Bearer") && strings.Count(token, ".") == 2) {
		return ""
	}
	return "this is a webhook a Connect or OAuth app registered, which Jira authenticates with a JWT rather than a secret; " +
		"create an admin webhook instead (Jira settings → System → WebHooks, or POST /rest/webhooks/1.0/webhook) " +
		"with a secret, and list that secret under jira.webhook_secrets"
}

// Identify implements inbox.Verifier: the delivery id is Jira's webhook
// identifier. The event name is in the body (webhookEvent).
func (*Verifier) Identify(h http.Header) (id, event string) {
	return h.Get(IdentifierHeader), ""
}

// Sign returns an X-Hub-Signature value for body, as Jira computes it: for
// sending sample deliveries and for tests.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
