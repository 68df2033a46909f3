package inbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A delivery keeps the headers that say what it was (ids, event,
// signature, retry, content type, user agent), never credentials, and no
// more than a bounded number of bounded ones.
func TestKeptHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/abc")
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("a", 64))
	h.Set("Authorization", "Bearer secret")
	h.Set("Cookie", "session=secret")
	h.Set("X-Huge", strings.Repeat("x", 10_000))
	kept := keptHeaders(h)
	require.Equal(t, "72d3162e-cc78-11e3-81ab-4c9367dc0958", kept["X-Github-Delivery"])
	require.Equal(t, "application/json", kept["Content-Type"])
	require.NotContains(t, kept, "Authorization")
	require.NotContains(t, kept, "Cookie")
	require.Len(t, kept["X-Huge"], maxHeaderText)

	for i := range 100 {
		h.Set(fmt.Sprintf("X-Flood-%03d", i), "x")
	}
	require.Len(t, keptHeaders(h), maxKeptHeaders)
}
