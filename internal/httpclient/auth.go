package httpclient

import (
	"errors"
	"net/http"
)

// Authorized returns a copy of hc whose requests carry the credentials
// auth sets. auth runs for every request, after the vendor's client
// library has built it, so that a rotated secret (config.Secret read from
// a file) takes effect with the next request, without a restart.
func Authorized(hc *http.Client, auth func(h http.Header)) *http.Client {
	c := *hc
	c.Transport = authTransport{next: Transport(hc), auth: auth}
	// net/http drops credentials on a redirect to another host; this
	// transport would add them again, so such a redirect is not followed
	// (the vendor's client sees the 3xx). The APIs the hub calls do not
	// send them.
	check := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		if check != nil {
			return check(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// Transport is what hc sends through: its transport, or net/http's
// default.
func Transport(hc *http.Client) http.RoundTripper {
	if hc.Transport == nil {
		return http.DefaultTransport
	}
	return hc.Transport
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
