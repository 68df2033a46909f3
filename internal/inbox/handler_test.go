package inbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/inbox"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
)

// acceptAll verifies any signed request; what is under test is the read.
type acceptAll struct{}

func (acceptAll) Source() incident.Source                 { return incident.SourcePagerDuty }
func (acceptAll) Signed(h http.Header) bool               { return h.Get("Sig") != "" }
func (acceptAll) Verify(http.Header, []byte) bool         { return true }
func (acceptAll) Identify(h http.Header) (string, string) { return h.Get("Id"), "" }

type memStore struct{ got chan delivery.Delivery }

func (m memStore) Delivery(context.Context, incident.Source, string) (delivery.Delivery, error) {
	return delivery.Delivery{}, errors.New("not kept")
}

func (m memStore) Append(_ context.Context, d delivery.Delivery) (bool, error) {
	m.got <- d
	return true, nil
}

func post(t *testing.T, url, id string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	require.NoError(t, err)
	req.Header.Set("Sig", "ok")
	req.Header.Set("Id", id)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// While the bytes in flight are taken, a request waits a moment and is
// answered 503 with Retry-After; once they are free, it gets through.
func TestBodiesInFlightAreBounded(t *testing.T) {
	t.Parallel()
	store := memStore{got: make(chan delivery.Delivery, 2)}
	budget := inbox.NewBudget(1 << 10)
	h := inbox.NewHandler(acceptAll{}, store, 1<<10, budget, slog.New(slog.DiscardHandler), metrics.New())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	// A slow sender holds the whole budget: it announces 1,023 bytes and
	// sends half of them.
	slow, slowWriter := io.Pipe()
	slowDone := make(chan *http.Response)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, slow)
		req.ContentLength = 1<<10 - 1
		req.Header.Set("Sig", "ok")
		req.Header.Set("Id", "slow")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		slowDone <- resp
	}()
	_, err := slowWriter.Write(bytes.Repeat([]byte("a"), 512))
	require.NoError(t, err)
	// The client has sent those bytes; the server may not have taken the
	// request yet on a loaded machine.
	require.Eventually(t, func() bool { return inbox.Busy(budget) }, 10*time.Second, time.Millisecond, "the slow sender holds the budget")

	began := time.Now()
	resp := post(t, srv.URL, "second", bytes.NewReader([]byte(`{}`)))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, time.Since(began), time.Second, "waited for room before refusing")

	_, err = slowWriter.Write(bytes.Repeat([]byte("a"), 511))
	require.NoError(t, err)
	require.NoError(t, slowWriter.Close())
	require.Equal(t, http.StatusAccepted, (<-slowDone).StatusCode)
	require.Len(t, (<-store.got).Body, 1<<10-1)

	resp = post(t, srv.URL, "second", bytes.NewReader([]byte(`{}`)))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "second", (<-store.got).ID)
}

// A sender that announces a body and stalls is cut off at the reading
// pace (5 s and a second per 64 KiB announced), and its room goes back:
// it does not hold the budget for the server's whole read timeout.
func TestStalledSenderIsCutOff(t *testing.T) {
	t.Parallel()
	store := memStore{got: make(chan delivery.Delivery, 1)}
	h := inbox.NewHandler(acceptAll{}, store, 1<<10, inbox.NewBudget(1<<10),
		slog.New(slog.DiscardHandler), metrics.New())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	stalled, stalledWriter := io.Pipe()
	t.Cleanup(func() { stalledWriter.Close() })
	began := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, srv.URL, stalled)
		req.ContentLength = 1 << 10
		req.Header.Set("Sig", "ok")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	_, err := stalledWriter.Write([]byte("{"))
	require.NoError(t, err)
	<-done
	require.Less(t, time.Since(began), 10*time.Second, "cut off at the reading pace")
	resp := post(t, srv.URL, "other", bytes.NewReader([]byte(`{}`)))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "its room went back")
}
