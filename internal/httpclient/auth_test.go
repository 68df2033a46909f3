package httpclient_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/httpclient"
)

// Credentials go with every request, as they are at the time, and never
// to another host a redirect points at.
func TestAuthorized(t *testing.T) {
	t.Parallel()
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked = r.Header.Get("Authorization") }))
	t.Cleanup(other.Close)
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		}
	}))
	t.Cleanup(api.Close)
	token := "one"
	c := httpclient.Authorized(&http.Client{}, func(h http.Header) { h.Set("Authorization", "Bearer "+token) })
	for _, tok := range []string{"one", "two"} {
		token = tok
		resp, err := c.Get(api.URL + "/here")
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Equal(t, []string{"Bearer one", "Bearer two"}, seen)

	resp, err := c.Get(api.URL + "/away")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "a redirect to another host is not followed")
	require.Empty(t, leaked)
}
