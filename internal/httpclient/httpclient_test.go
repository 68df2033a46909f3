package httpclient_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/httpclient"
)

// fault answers attempt n (from 1) of a request.
type fault func(n int, w http.ResponseWriter)

func status(code int, headers ...string) fault {
	return func(_ int, w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"message":"vendor says `+strconv.Itoa(code)+`"}`)
	}
}

// then answers with first on attempt 1 and with second afterwards.
func then(first, second fault) fault {
	return func(n int, w http.ResponseWriter) {
		if n == 1 {
			first(n, w)
			return
		}
		second(n, w)
	}
}

func secondary(_ int, w http.ResponseWriter) {
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`)
}

// stall answers after the client's timeout (client()).
func stall(_ int, w http.ResponseWriter) { time.Sleep(1500 * time.Millisecond) }

// reset closes the connection without an answer.
func reset(_ int, w http.ResponseWriter) {
	conn, _, _ := w.(http.Hijacker).Hijack()
	conn.Close()
}

var ok = status(http.StatusOK)

func client() *http.Client {
	return httpclient.New(httpclient.Options{
		Retries: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond,
		// Long enough for an answer under the race detector on a busy
		// machine (100 ms was not, once), short against stall.
		MaxHeaderWait: 2 * time.Second, Timeout: 500 * time.Millisecond,
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	past := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	for _, tc := range []struct {
		name     string
		method   string
		fault    fault
		attempts int
		status   int // final status the SDK sees; 0 for a transport error
	}{
		{"GET after a 500", http.MethodGet, then(status(500), ok), 2, 200},
		{"GET after a 502", http.MethodGet, then(status(502), ok), 2, 200},
		{"GET after a 503", http.MethodGet, then(status(503), ok), 2, 200},
		{"GET gives up, keeping the last answer", http.MethodGet, status(500), 4, 500},
		{"GET 501 is final", http.MethodGet, status(501), 1, 501},
		{"GET 404 is final", http.MethodGet, status(404), 1, 404},
		{"POST 500 is ambiguous: not re-sent", http.MethodPost, status(500), 1, 500},
		{"POST 503 without Retry-After is ambiguous", http.MethodPost, status(503), 1, 503},
		// A 503 may come after the effect, Retry-After or not: the job
		// waits as asked and looks for what it may have made first.
		{"POST 503 with Retry-After is ambiguous too", http.MethodPost, then(status(503, "Retry-After", "0"), ok), 1, 503},
		{"GET 503 with Retry-After", http.MethodGet, then(status(503, "Retry-After", "0"), ok), 2, 200},
		{"POST 429 without Retry-After", http.MethodPost, then(status(429), ok), 2, 200},
		{"POST 429 Retry-After seconds", http.MethodPost, then(status(429, "Retry-After", "1"), ok), 2, 200},
		{"POST 429 Retry-After 3600 is the job's wait", http.MethodPost, status(429, "Retry-After", "3600"), 1, 429},
		{"POST 429 Retry-After as an HTTP date far off", http.MethodPost,
			status(429, "Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), 1, 429},
		{"GitHub primary limit, reset passed", http.MethodPost,
			then(status(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", past), ok), 2, 200},
		{"GitHub secondary limit with Retry-After", http.MethodPost, then(status(403, "Retry-After", "0"), ok), 2, 200},
		{"GitHub secondary limit without a time waits a minute: the job's", http.MethodPost, secondary, 1, 403},
		{"403 without a limit is final", http.MethodPost, status(403), 1, 403},
		{"PagerDuty ratelimit-reset", http.MethodPost, then(status(429, "Ratelimit-Reset", "0"), ok), 2, 200},
		{"Jira X-RateLimit-Reset", http.MethodPost,
			then(status(429, "X-Ratelimit-Reset", time.Now().Add(-time.Second).UTC().Format(time.RFC3339)), ok), 2, 200},
		{"GET after a timeout", http.MethodGet, then(stall, ok), 2, 200},
		{"POST timeout is ambiguous: not re-sent", http.MethodPost, stall, 1, 0},
		{"GET after a connection reset", http.MethodGet, then(reset, ok), 2, 200},
		{"POST connection reset is ambiguous", http.MethodPost, reset, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var attempts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return // the client gave up on this attempt while sending
				}
				require.Equal(t, `{"title":"x"}`, string(body), "the body is re-sent whole")
				tc.fault(int(attempts.Add(1)), w)
			}))
			defer srv.Close()
			req, err := http.NewRequest(tc.method, srv.URL, strings.NewReader(`{"title":"x"}`))
			require.NoError(t, err)
			resp, err := client().Do(req)
			if tc.status == 0 {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, tc.status, resp.StatusCode)
				require.Contains(t, string(body), `"message"`, "the vendor's text reaches the SDK")
			}
			require.Equal(t, tc.attempts, int(attempts.Load()))
		})
	}
}

// A connection never made is safe to retry, even for a create.
func TestRetriesWhenNotSent(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	dialer := &net.Dialer{}
	c := httpclient.New(httpclient.Options{
		Retries: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, "127.0.0.1:1") // nothing listens there
		}},
	})
	req, err := http.NewRequest(http.MethodPost, "http://vendor.invalid/issues", strings.NewReader("{}"))
	require.NoError(t, err)
	_, err = c.Do(req)
	require.Error(t, err)
	require.Equal(t, int32(3), dials.Load())
}

// Waits named by headers are parsed, and capped where a call would stall.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		code    int
		headers map[string]string
		wait    time.Duration
		limited bool
	}{
		{"Retry-After seconds", 429, map[string]string{"Retry-After": "30"}, 30 * time.Second, true},
		{"Retry-After 3600", 429, map[string]string{"Retry-After": "3600"}, time.Hour, true},
		{"Retry-After HTTP date", 429, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second, true},
		{"Retry-After in the past", 429, map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0, true},
		{"GitHub reset", 403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(now.Add(20*time.Minute).Unix(), 10)}, 20 * time.Minute, true},
		{"GitHub 429 reset", 429, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(now.Add(time.Minute).Unix(), 10)}, time.Minute, true},
		{"PagerDuty", 429, map[string]string{"Ratelimit-Reset": "12"}, 12 * time.Second, true},
		{"Jira", 429, map[string]string{"X-Ratelimit-Reset": now.Add(5 * time.Minute).Format(time.RFC3339)}, 5 * time.Minute, true},
		{"429 naming no time", 429, nil, 0, true},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "5"}, 5 * time.Second, true},
		{"503 without", 503, nil, 0, false},
		{"403 permission", 403, map[string]string{"X-Ratelimit-Remaining": "4999"}, 0, false},
		{"200", 200, map[string]string{"Retry-After": "5"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tc.code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
			for k, v := range tc.headers {
				resp.Header.Set(k, v)
			}
			wait, limited := httpclient.RateLimited(resp, now)
			require.Equal(t, tc.limited, limited)
			require.Equal(t, tc.wait, wait)
		})
	}
}

func TestBackoffIsExponentialWithJitterAndCapped(t *testing.T) {
	t.Parallel()
	for attempt, upper := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		for range 50 {
			d := httpclient.Jittered(100*time.Millisecond, time.Second, attempt)
			require.GreaterOrEqual(t, d, upper*time.Millisecond/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, upper*time.Millisecond, "attempt %d", attempt)
		}
	}
	require.LessOrEqual(t, httpclient.Jittered(time.Second, time.Minute, 80), time.Minute, "no overflow")
}

// A limit that names no time is not retried at once.
func TestBackoffNeverImmediateOnALimit(t *testing.T) {
	t.Parallel()
	var attempts []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts = append(attempts, time.Now())
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c := httpclient.New(httpclient.Options{Retries: 2, MinWait: 40 * time.Millisecond, MaxWait: 80 * time.Millisecond, MaxHeaderWait: time.Second})
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, attempts, 3)
	require.GreaterOrEqual(t, attempts[1].Sub(attempts[0]), 20*time.Millisecond, "at least half the minimum backoff")
}
