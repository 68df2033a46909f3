package pagerduty_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
	"github.com/incidenthub/incidenthub/router"
)

const (
	secret        = "current-secret"
	rotatedSecret = "previous-secret"
)

type testBundle struct {
	srv   *httptest.Server
	store *store.Store
	proc  *pipeline.Processor
	logs  *bytes.Buffer
}

func setup(t *testing.T, maxBody int64, secrets ...string) *testBundle {
	t.Helper()
	s := storetest.SQLite(t)

	w := inbox.NewWriter(s)
	go w.Run(context.Background())
	t.Cleanup(w.Close)

	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	m := metrics.New()
	h := inbox.NewHandler(pagerduty.NewVerifier(config.Secrets(secrets...)), w, maxBody, inbox.NewBudget(64<<20), log, m)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	proc := pipeline.NewProcessor(s, []pipeline.Normalizer{pagerduty.Normalizer{}}, router.Rules{}, log, m)
	return &testBundle{srv: srv, store: s, proc: proc, logs: logs}
}

type answer struct {
	Delivery  string `json:"delivery"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
}

func (b *testBundle) post(t *testing.T, body []byte, header http.Header) (int, answer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var a answer
	require.NoError(t, json.Unmarshal(raw, &a), string(raw))
	return resp.StatusCode, a
}

// processAll processes every pending delivery, as the running processor would.
func (b *testBundle) processAll(t *testing.T) {
	t.Helper()
	for {
		more, err := b.proc.ProcessNext(context.Background())
		require.NoError(t, err)
		if !more {
			return
		}
	}
}

func (b *testBundle) delivery(t *testing.T, id string) delivery.Delivery {
	t.Helper()
	d, err := b.store.Delivery(context.Background(), "pagerduty", id)
	require.NoError(t, err)
	return d
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pagerduty", name))
	require.NoError(t, err)
	return raw
}

func headers(id, signature string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"PagerDuty-Webhook/V3.0"}}
	if id != "" {
		h.Set(pagerduty.WebhookIDHeader, id)
	}
	if signature != "" {
		h.Set(pagerduty.SignatureHeader, signature)
	}
	return h
}

// PagerDuty's own test vector from go-pagerduty: the secret, body and
// signatures verify exactly as PagerDuty computes them.
func TestVerifierWithPagerDutyVector(t *testing.T) {
	t.Parallel()
	var vector struct {
		Secret   string `json:"secret"`
		Valid    string `json:"valid_signature_header"`
		Mismatch string `json:"mismatching_signature_header"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "signature-vector.go-pagerduty.json"), &vector))
	body := readFile(t, "signature-vector.body.raw")
	v := pagerduty.NewVerifier(config.Secrets(vector.Secret))

	require.True(t, v.Verify(headers("", vector.Valid), body))
	require.False(t, v.Verify(headers("", vector.Mismatch), body))
	require.Equal(t, vector.Valid, pagerduty.Sign(vector.Secret, body))
}

func TestVerifierHeaderForms(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":{}}`)
	good := pagerduty.Sign(secret, body)
	other := pagerduty.Sign("someone-else", body)
	v := pagerduty.NewVerifier(config.Secrets(secret, rotatedSecret))
	for _, tc := range []struct {
		name   string
		header string
		valid  bool
	}{
		{name: "one signature", header: good, valid: true},
		{name: "rotated secret", header: pagerduty.Sign(rotatedSecret, body), valid: true},
		{name: "several signatures, valid last", header: other + "," + good, valid: true},
		{name: "spaces around entries", header: other + " ,  " + good + " ", valid: true},
		{name: "unknown scheme ignored", header: "v2=abc," + good, valid: true},
		{name: "only unknown schemes", header: strings.Replace(good, "v1=", "v0=", 1), valid: false},
		{name: "wrong secret", header: other, valid: false},
		{name: "not hex", header: "v1=zz", valid: false},
		{name: "empty", header: "", valid: false},
		{name: "bare hex without scheme", header: strings.TrimPrefix(good, "v1="), valid: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.valid, v.Verify(headers("", tc.header), body))
		})
	}
	// An empty secret verifies nothing, even a body signed with it.
	require.False(t, pagerduty.NewVerifier(config.Secrets("")).Verify(headers("", pagerduty.Sign("", body)), body))
	require.False(t, pagerduty.NewVerifier(nil).Verify(headers("", good), body))
}

func TestIntakeAnswers(t *testing.T) {
	t.Parallel()
	trigger := readFile(t, "incident.triggered.json")
	oversize := append(bytes.Repeat([]byte(" "), 4096), trigger...)
	for _, tc := range []struct {
		name      string
		body      []byte
		header    http.Header
		status    int
		duplicate bool
		// outcome is the delivery's status after processing; "" when
		// nothing was stored.
		outcome delivery.Status
	}{
		{name: "good signature", body: trigger, header: headers("d-good", pagerduty.Sign(secret, trigger)),
			status: http.StatusAccepted, outcome: delivery.StatusProcessed},
		{name: "rotated secret", body: trigger, header: headers("d-rotated", pagerduty.Sign(rotatedSecret, trigger)),
			status: http.StatusAccepted, outcome: delivery.StatusProcessed},
		{name: "several signatures", body: trigger, header: headers("d-several", pagerduty.Sign("old", trigger)+","+pagerduty.Sign(secret, trigger)),
			status: http.StatusAccepted, outcome: delivery.StatusProcessed},
		{name: "bad signature", body: trigger, header: headers("d-bad", pagerduty.Sign("guess", trigger)),
			status: http.StatusUnauthorized},
		{name: "missing signature", body: trigger, header: headers("d-missing", ""),
			status: http.StatusUnauthorized},
		{name: "oversize", body: oversize, header: headers("d-big", pagerduty.Sign(secret, oversize)),
			status: http.StatusRequestEntityTooLarge},
		{name: "signed but not JSON is kept", body: []byte("<html>oops"), header: headers("d-html", pagerduty.Sign(secret, []byte("<html>oops"))),
			status: http.StatusAccepted, outcome: delivery.StatusUnprocessable},
		{name: "unknown event is recorded as ignored", body: readFile(t, "docs.service.updated.json"),
			header: headers("d-service", pagerduty.Sign(secret, readFile(t, "docs.service.updated.json"))),
			status: http.StatusAccepted, outcome: delivery.StatusIgnored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 2048, secret, rotatedSecret)
			status, a := b.post(t, tc.body, tc.header)
			require.Equal(t, tc.status, status)
			require.Equal(t, tc.duplicate, a.Duplicate)
			b.processAll(t)
			id := tc.header.Get(pagerduty.WebhookIDHeader)
			d, err := b.store.Delivery(context.Background(), "pagerduty", id)
			if tc.outcome == "" {
				require.ErrorIs(t, err, store.ErrNotFound, "a refused delivery is not stored")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.outcome, d.Status, d.Reason)
			require.Equal(t, tc.body, d.Body, "the raw body is kept as it arrived")
		})
	}
}

// A redelivery (same X-Webhook-Id) is 2xx with duplicate:true and has no
// second effect; the same event under another id is applied once too.
func TestIntakeDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	trigger := readFile(t, "incident.triggered.json")
	sig := pagerduty.Sign(secret, trigger)

	status, a := b.post(t, trigger, headers("d-1", sig))
	require.Equal(t, http.StatusAccepted, status)
	require.False(t, a.Duplicate)
	status, a = b.post(t, trigger, headers("d-1", sig))
	require.Equal(t, http.StatusOK, status)
	require.True(t, a.Duplicate)
	require.Equal(t, "d-1", a.Delivery)

	status, _ = b.post(t, trigger, headers("d-2", sig))
	require.Equal(t, http.StatusAccepted, status)
	b.processAll(t)

	require.Equal(t, delivery.StatusProcessed, b.delivery(t, "d-1").Status)
	second := b.delivery(t, "d-2")
	require.Equal(t, delivery.StatusIgnored, second.Status)
	require.Contains(t, second.Reason, "applied before")
	recs, err := b.store.Incidents(context.Background(), store.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, recs, 1)
}

// The same delivery id with another body keeps the first and says so,
// naming both bodies by their hash; a true retry says nothing.
func TestIntakeConflictingDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	trigger := readFile(t, "incident.triggered.json")
	other := append(bytes.Clone(trigger[:len(trigger)-1]), ' ', '}')

	status, _ := b.post(t, trigger, headers("d-1", pagerduty.Sign(secret, trigger)))
	require.Equal(t, http.StatusAccepted, status)
	status, a := b.post(t, trigger, headers("d-1", pagerduty.Sign(secret, trigger)))
	require.Equal(t, http.StatusOK, status)
	require.True(t, a.Duplicate)
	require.NotContains(t, b.logs.String(), "another body", "a true retry")

	status, a = b.post(t, other, headers("d-1", pagerduty.Sign(secret, other)))
	require.Equal(t, http.StatusOK, status, "still a 2xx: PagerDuty must not retry it")
	require.True(t, a.Duplicate)
	logs := b.logs.String()
	require.Contains(t, logs, "delivery id came again with another body")
	require.Contains(t, logs, fmt.Sprintf("stored_sha256=%x", sha256.Sum256(trigger)))
	require.Contains(t, logs, fmt.Sprintf("received_sha256=%x", sha256.Sum256(other)))
	require.Equal(t, trigger, b.delivery(t, "d-1").Body, "the first is kept")
}

// Headers are not signed: a 100,000-character delivery id with invalid
// UTF-8 adds one bounded line to the log and a bounded, valid id to the
// store.
func TestIntakeBoundsHeaderValues(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	hostile := "id level=ERROR msg=forged \xff" + strings.Repeat("x", 100_000)
	status, _ := b.post(t, []byte(`{}`), headers(hostile, ""))
	require.Equal(t, http.StatusUnauthorized, status)
	require.Less(t, b.logs.Len(), 1000, "one bounded log line")
	require.Equal(t, 1, strings.Count(b.logs.String(), "\n"), "one line: %s", b.logs.String())

	trigger := readFile(t, "incident.triggered.json")
	status, a := b.post(t, trigger, headers(hostile, pagerduty.Sign(secret, trigger)))
	require.Equal(t, http.StatusAccepted, status)
	require.LessOrEqual(t, len(a.Delivery), 200)
	require.True(t, utf8.ValidString(a.Delivery))
	require.Equal(t, trigger, b.delivery(t, a.Delivery).Body)
}

// Only a header with a well-formed v1 signature counts as signed; the
// inbox refuses any other before reading the body.
func TestVerifierSigned(t *testing.T) {
	t.Parallel()
	v := pagerduty.NewVerifier(config.Secrets(secret))
	whole := strings.Repeat("ab", 32)
	for header, signed := range map[string]bool{
		"v1=" + whole:                   true,
		"v0=" + whole + ", v1=" + whole: true,
		"v1=00":                         false,
		"v1=" + strings.Repeat("z", 64): false,
		"v0=" + whole:                   false,
		"":                              false,
	} {
		require.Equal(t, signed, v.Signed(headers("", header)), header)
	}
}

// Without X-Webhook-Id the body's hash is the delivery id, so an identical
// retry is still recognised.
func TestIntakeWithoutWebhookID(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	trigger := readFile(t, "incident.triggered.json")
	_, first := b.post(t, trigger, headers("", pagerduty.Sign(secret, trigger)))
	status, again := b.post(t, trigger, headers("", pagerduty.Sign(secret, trigger)))
	require.Equal(t, http.StatusOK, status)
	require.True(t, again.Duplicate)
	require.Equal(t, first.Delivery, again.Delivery)
	require.True(t, strings.HasPrefix(first.Delivery, "sha256:"))
}

// With the store down the answer is 503, which PagerDuty retries.
func TestIntakeStoreDown(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	require.NoError(t, b.store.Close())
	trigger := readFile(t, "incident.triggered.json")
	status, a := b.post(t, trigger, headers("d-down", pagerduty.Sign(secret, trigger)))
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "store unavailable", a.Error)
}

// A refused delivery is logged without the secret or the signature.
func TestIntakeLogsNoSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, 1<<20, secret)
	trigger := readFile(t, "incident.triggered.json")
	bad := pagerduty.Sign("guess", trigger)
	status, _ := b.post(t, trigger, headers("d-log", bad))
	require.Equal(t, http.StatusUnauthorized, status)
	logs := b.logs.String()
	require.Contains(t, logs, "invalid signature")
	require.NotContains(t, logs, secret)
	require.NotContains(t, logs, strings.TrimPrefix(bad, "v1="))
}

// A body sent without Content-Length (chunked) is still cut at the limit.
func TestIntakeOversizeChunked(t *testing.T) {
	t.Parallel()
	b := setup(t, 1024, secret)
	body := bytes.Repeat([]byte("x"), 4096)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL, io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	req.Header = headers("d-chunked", pagerduty.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Zero(t, req.ContentLength, "unknown length: the client sends it chunked")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}
