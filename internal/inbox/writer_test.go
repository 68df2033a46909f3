package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/incidenthub/incidenthub/internal/incident"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/inbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gatedAppender blocks each commit until released, recording batch sizes.
type gatedAppender struct {
	mu      sync.Mutex
	batches []int
	seen    map[string]bool
	entered chan struct{}
	release chan struct{}
	err     error
}

func newGatedAppender() *gatedAppender {
	return &gatedAppender{seen: map[string]bool{}, entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
}

func (a *gatedAppender) Delivery(context.Context, incident.Source, string) (delivery.Delivery, error) {
	return delivery.Delivery{}, errors.New("not kept")
}

func (a *gatedAppender) AppendDeliveries(_ context.Context, ds []delivery.Delivery) ([]bool, error) {
	a.entered <- struct{}{}
	<-a.release
	a.mu.Lock()
	defer a.mu.Unlock()
	a.batches = append(a.batches, len(ds))
	if a.err != nil {
		return nil, a.err
	}
	fresh := make([]bool, len(ds))
	for i, d := range ds {
		fresh[i] = !a.seen[d.ID]
		a.seen[d.ID] = true
	}
	return fresh, nil
}

func start(t *testing.T, a inbox.Appender) *inbox.Writer {
	t.Helper()
	w := inbox.NewWriter(a)
	go w.Run(context.Background())
	t.Cleanup(w.Close)
	return w
}

// Deliveries that arrive while a commit runs share a later commit, and
// each caller learns its own result only after that commit.
func TestWriterGroupsConcurrentDeliveries(t *testing.T) {
	a := newGatedAppender()
	w := start(t, a)

	first := make(chan bool)
	go func() {
		fresh, _ := w.Append(context.Background(), delivery.Delivery{ID: "first"})
		first <- fresh
	}()
	<-a.entered // the first commit is running and holds the writer

	const n = 10
	var wg sync.WaitGroup
	results := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("d%d", i)
			if i == n-1 {
				id = "first" // a repeat of the first delivery
			}
			fresh, err := w.Append(context.Background(), delivery.Delivery{ID: id})
			require.NoError(t, err)
			results[i] = fresh
		}()
	}
	// Give the requests time to queue behind the running commit; if some
	// are late they land in a further batch, which the checks allow.
	time.Sleep(50 * time.Millisecond)
	for range n + 1 {
		a.release <- struct{}{}
	}
	require.True(t, <-first, "answered only once its commit is released")
	wg.Wait()

	require.Equal(t, 1, a.batches[0])
	total, largest := 0, 0
	for _, b := range a.batches[1:] {
		total += b
		largest = max(largest, b)
	}
	require.Equal(t, n, total)
	require.Greater(t, largest, 1, "concurrent deliveries share a commit: %v", a.batches)
	require.False(t, results[n-1], "the repeat is reported as a duplicate")
	for i := range n - 1 {
		require.True(t, results[i], i)
	}
	select {
	case <-w.Stored():
	default:
		t.Fatal("a commit with new deliveries signals the processor")
	}
}

func TestWriterReportsStoreErrorsToEveryCaller(t *testing.T) {
	a := newGatedAppender()
	a.err = errors.New("disk I/O error")
	w := start(t, a)
	errs := make(chan error, 2)
	for _, id := range []string{"x", "y"} {
		go func() {
			_, err := w.Append(context.Background(), delivery.Delivery{ID: id})
			errs <- err
		}()
	}
	// One batch or two, each commit fails.
	a.release <- struct{}{}
	a.release <- struct{}{}
	require.ErrorContains(t, <-errs, "disk I/O error")
	require.ErrorContains(t, <-errs, "disk I/O error")
}

func TestWriterClosed(t *testing.T) {
	a := newGatedAppender()
	w := inbox.NewWriter(a)
	go w.Run(context.Background())
	w.Close()
	w.Close() // idempotent
	_, err := w.Append(context.Background(), delivery.Delivery{ID: "late"})
	require.ErrorIs(t, err, inbox.ErrClosed)
}

func TestWriterHonoursCallerContextBeforeHandOver(t *testing.T) {
	w := inbox.NewWriter(newGatedAppender()) // not running: nothing takes requests
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := w.Append(ctx, delivery.Delivery{ID: "x"})
	require.ErrorIs(t, err, context.Canceled)
}
