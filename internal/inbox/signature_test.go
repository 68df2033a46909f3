package inbox_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/inbox"
)

func TestMatchHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":{"id":"01BZGXK3Y6K4VH2A2DHMTE7W1A"}}`)
	sum := func(secret string, body []byte) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return m.Sum(nil)
	}
	for _, tc := range []struct {
		name    string
		secrets []config.Secret
		sums    [][]byte
		match   bool
	}{
		{"one secret", config.Secrets("new"), [][]byte{sum("new", body)}, true},
		{"rotation: the new secret", config.Secrets("old", "new"), [][]byte{sum("new", body)}, true},
		{"rotation: the old secret", config.Secrets("old", "new"), [][]byte{sum("old", body)}, true},
		{"wrong secret", config.Secrets("old", "new"), [][]byte{sum("guess", body)}, false},
		{"sum of another body", config.Secrets("new"), [][]byte{sum("new", []byte(`{}`))}, false},
		{"truncated sum", config.Secrets("new"), [][]byte{sum("new", body)[:16]}, false},
		{"several signatures, one good", config.Secrets("new"), [][]byte{sum("guess", body), sum("new", body)}, true},
		{"several signatures, none good", config.Secrets("new"), [][]byte{sum("guess", body), sum("other", body)}, false},
		{"empty secret refused", config.Secrets(""), [][]byte{sum("", body)}, false},
		{"blank secret refused", config.Secrets(" \t"), [][]byte{sum(" \t", body)}, false},
		{"empty secret beside a real one", config.Secrets("", "new"), [][]byte{sum("", body)}, false},
		{"real secret beside an empty one", config.Secrets("", "new"), [][]byte{sum("new", body)}, true},
		{"no secrets", nil, [][]byte{sum("new", body)}, false},
		{"no sums", config.Secrets("new"), nil, false},
		{"empty sum", config.Secrets("new"), [][]byte{{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.match, inbox.MatchHMAC(body, tc.secrets, tc.sums))
		})
	}
}

func TestSums(t *testing.T) {
	t.Parallel()
	whole := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"v1=" + whole, 1},
		{"v1=" + whole + ", v1=" + whole, 2},
		{"v2=" + whole + ",v1=" + whole, 1},
		{"v1=00", 0},                  // not a whole sum: refused unread
		{"v1=" + whole[:63] + "z", 0}, // not hex
		{"v1=" + whole + "00", 0},     // too long
		{whole, 0},                    // no scheme
		{"", 0},
	} {
		require.Len(t, inbox.Sums(tc.header, "v1="), tc.want, tc.header)
	}
}

// Whatever a header holds, every sum parsed is a whole SHA-256 sum, and a
// true signature among other values is found.
func FuzzSums(f *testing.F) {
	whole := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, seed := range []string{"v1=" + whole, "v1=00", "v2=" + whole + ",v1=" + whole, " , ,", "v1=" + whole + "00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, sum := range inbox.Sums(header, "v1=") {
			require.Len(t, sum, sha256.Size)
		}
		require.Len(t, inbox.Sums(header+",v1="+whole, "v1="), len(inbox.Sums(header, "v1="))+1)
	})
}
