package httpclient

import "net/http"

// Authorized returns a copy of hc whose requests carry the credentials
// auth sets. auth runs for every request, after the vendor's client
// library has built it, so that a rotated secret (config.Secret read from
// a file) takes effect with the next request, without a restart.
func Authorized(hc *http.Client, auth func(h http.Header)) *http.Client {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := *hc
	c.Transport = authTransport{next: next, auth: auth}
	return &c
}

type authTransport struct {
	next http.RoundTripper
	auth func(h http.Header)
}

func (t authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	t.auth(r.Header)
	return t.next.RoundTrip(r)
}
