package inbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

// Sums parses a signature header into the HMAC-SHA256 sums it carries:
// comma-separated values of the form <scheme><64 hex digits>. Values of
// another scheme, or that are not a whole SHA-256 sum, are skipped; so a
// header without one well-formed sum (`v1=00`) is refused before its body
// is read, and a forged one costs at most one bounded read.
func Sums(header, scheme string) [][]byte {
	var sums [][]byte
	for part := range strings.SplitSeq(header, ",") {
		sig, ok := strings.CutPrefix(strings.TrimSpace(part), scheme)
		if !ok || len(sig) != 2*sha256.Size {
			continue
		}
		if sum, err := hex.DecodeString(sig); err == nil {
			sums = append(sums, sum)
		}
	}
	return sums
}
