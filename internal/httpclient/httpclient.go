// Package httpclient builds the HTTP clients the vendor SDKs (go-github,
// go-jira, go-pagerduty) send through: go-retryablehttp with a retry policy
// that knows the vendors' rate-limit headers.
//
// Retries here are short and within one call (a few attempts, waits of
// seconds). Long waits, such as a rate limit that resets in twenty minutes,
// are the job queue's: Classify tells the job to come back later.
package httpclient

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Options tune a client; the zero value of each field takes its default.
type Options struct {
	// Retries within one call (default 3).
	Retries int
	// MinWait and MaxWait bound the exponential backoff between in-call
	// retries (defaults 500ms and 5s).
	MinWait, MaxWait time.Duration
	// MaxHeaderWait is the longest Retry-After or rate-limit reset honoured
	// within a call (default 10s); a longer one ends the call, and the job
	// waits instead.
	MaxHeaderWait time.Duration
	// Timeout bounds each attempt (default 30s).
	Timeout time.Duration
	Logger  *slog.Logger
	// Transport is the underlying transport (tests inject faults here).
	Transport http.RoundTripper
}

func (o *Options) defaults() {
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.MinWait == 0 {
		o.MinWait = 500 * time.Millisecond
	}
	if o.MaxWait == 0 {
		o.MaxWait = 5 * time.Second
	}
	if o.MaxHeaderWait == 0 {
		o.MaxHeaderWait = 10 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// New returns an *http.Client for a vendor SDK. The SDK always sees the
// final response (retryablehttp would otherwise discard it and return
// only "giving up"), so it can read the vendor's error text.
func New(o Options) *http.Client {
	o.defaults()
	rc := retryablehttp.NewClient()
	rc.RetryMax = o.Retries
	rc.RetryWaitMin, rc.RetryWaitMax = o.MinWait, o.MaxWait
	rc.CheckRetry = o.checkRetry
	rc.Backoff = o.backoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.Logger = o.Logger
	rc.HTTPClient.Timeout = o.Timeout
	if o.Transport != nil {
		rc.HTTPClient.Transport = o.Transport
	}
	return &http.Client{Transport: methodTagger{next: &retryablehttp.RoundTripper{Client: rc}}}
}

type methodKey struct{}

// methodTagger puts the request's method in its context: retryablehttp
// hands CheckRetry only the context, and whether a failed request may be
// sent again depends on the method.
type methodTagger struct{ next http.RoundTripper }

func (m methodTagger) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := m.next.RoundTrip(r.WithContext(context.WithValue(r.Context(), methodKey{}, r.Method)))
	if l, ok := r.Context().Value(lastResponseKey{}).(*LastResponse); ok && resp != nil {
		l.set(resp)
	}
	return resp, err
}

func idempotent(ctx context.Context) bool {
	switch ctx.Value(methodKey{}) {
	case http.MethodPost, http.MethodPatch:
		return false
	}
	return true
}

// checkRetry decides whether to try again within the call. A create
// (POST) is re-sent only when the vendor certainly did not act on it: the
// connection was never made, or the vendor said it was rate-limited. After
// a timeout or a 5xx the create may have happened; the job looks for it
// before creating again.
func (o *Options) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if notSent(err) {
			return true, nil
		}
		return idempotent(ctx) && transient(err), nil
	}
	if wait, limited := RateLimited(resp, time.Now()); limited {
		// A 429 or a 403 rate limit refused the request before doing it;
		// a 503 may come after the effect, so a create is not re-sent
		// (the job looks for what it may have made first).
		if resp.StatusCode == http.StatusServiceUnavailable && !idempotent(ctx) {
			return false, nil
		}
		return wait <= o.MaxHeaderWait, nil
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
		return idempotent(ctx), nil
	}
	return false, nil
}

// backoff honours the vendor's wait when it names one, and never waits
// less than exponential backoff with jitter: a limit that names no time
// (or zero) must not be met with an immediate retry.
func (o *Options) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	wait := jittered(minWait, maxWait, attempt)
	if resp != nil {
		if named, limited := RateLimited(resp, time.Now()); limited {
			wait = max(wait, min(named, o.MaxHeaderWait))
		}
	}
	return wait
}

// jittered is exponential backoff with jitter: between half and all of
// min·2^attempt, capped at max, so that clients retrying together spread out.
func jittered(minWait, maxWait time.Duration, attempt int) time.Duration {
	d := maxWait
	if attempt < 30 {
		d = min(minWait<<attempt, maxWait)
	}
	return d/2 + rand.N(d/2+1)
}

// notSent reports a failure before the request left: it is safe to send
// again whatever the method.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// transient reports errors worth another attempt: timeouts, resets and
// the like, but not a certificate the hub does not trust.
func transient(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	return !errors.As(err, &unknownAuthority) && !errors.As(err, &hostname)
}

// RateLimited reports whether the response says the vendor is limiting the
// hub, and how long it asks to wait (zero when it does not say):
//   - Retry-After, in seconds or as an HTTP date (all vendors);
//   - GitHub: 403 or 429 with x-ratelimit-remaining: 0 and x-ratelimit-reset
//     (epoch seconds), or a 403 secondary rate limit;
//     https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
//   - PagerDuty: 429 with ratelimit-reset (seconds);
//     https://developer.pagerduty.com/docs/rest-api-rate-limits
//   - Jira: 429 with X-RateLimit-Reset (an ISO 8601 time).
//     https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
func RateLimited(resp *http.Response, now time.Time) (time.Duration, bool) {
	h := resp.Header
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" {
			return 0, false
		}
	case http.StatusForbidden:
		if h.Get("X-Ratelimit-Remaining") != "0" && h.Get("Retry-After") == "" && !secondaryLimit(resp) {
			return 0, false
		}
	default:
		return 0, false
	}
	if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if epoch, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(epoch, 0).Sub(now), 0), true
		}
	}
	if secs, err := strconv.Atoi(h.Get("Ratelimit-Reset")); err == nil {
		return time.Duration(max(secs, 0)) * time.Second, true
	}
	if t, err := time.Parse(time.RFC3339, h.Get("X-Ratelimit-Reset")); err == nil {
		return max(t.Sub(now), 0), true
	}
	if resp.StatusCode == http.StatusForbidden {
		// GitHub: "wait at least one minute" when a secondary limit names no time.
		return time.Minute, true
	}
	return 0, true
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(max(secs, 0)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// secondaryLimit recognises GitHub's secondary rate limit, a 403 whose
// message says so. The body is read up to a bound and put back.
func secondaryLimit(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader(string(head)), resp.Body), resp.Body}
	return err == nil && strings.Contains(strings.ToLower(string(head)), "secondary rate limit")
}

type lastResponseKey struct{}

// LastResponse keeps the status and headers of the last answer received
// by requests made under its context. Some SDKs drop the headers from
// their errors (go-pagerduty's APIError keeps only the status), and a
// rate limit's wait is in the headers.
type LastResponse struct {
	mu   sync.Mutex
	resp *http.Response
}

// WithLastResponse returns a context under which the hub's HTTP client
// records each answer in the returned LastResponse.
func WithLastResponse(ctx context.Context) (context.Context, *LastResponse) {
	l := &LastResponse{}
	return context.WithValue(ctx, lastResponseKey{}, l), l
}

// Get returns the last answer (status and headers, no body), or nil when
// none came.
func (l *LastResponse) Get() *http.Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.resp
}

func (l *LastResponse) set(resp *http.Response) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resp = &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone()}
}
