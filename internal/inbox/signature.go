package inbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"

	"github.com/incidenthub/incidenthub/config"
)

// MatchHMAC reports whether one of sums is the HMAC-SHA256 of body keyed
// with one of secrets: the check behind every vendor's webhook signature,
// once each connector has parsed its header into raw sums. Several secrets
// allow a rotation; several sums, a vendor that signs with more than one.
//
// An empty (or blank) secret never matches anything: anyone can compute
// the HMAC of a body under an empty key, so such a secret would accept
// every delivery. Configuration refuses one too; this is the last guard.
// Sums are compared in constant time.
func MatchHMAC(body []byte, secrets []config.Secret, sums [][]byte) bool {
	if len(sums) == 0 {
		return false
	}
	for _, s := range secrets {
		if strings.TrimSpace(s.Value()) == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(s.Value()))
		m.Write(body)
		want := m.Sum(nil)
		for _, got := range sums {
			if hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}
