package inbox

import (
	"context"
	"errors"
	"sync"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// Appender stores a batch of deliveries in one transaction and reports,
// for each, whether it was new (false: its (source, id) was already stored).
type Appender interface {
	AppendDeliveries(ctx context.Context, ds []delivery.Delivery) ([]bool, error)
	// Delivery returns the delivery stored under source and id.
	Delivery(ctx context.Context, source incident.Source, id string) (delivery.Delivery, error)
}

// ErrClosed is returned for deliveries submitted after the writer stopped.
var ErrClosed = errors.New("inbox: writer stopped")

// maxBatch bounds one transaction; deliveries beyond it wait for the next.
const maxBatch = 256

// Writer is the single writer of the inbox. Concurrent deliveries are
// committed together in one transaction (group commit): the durable sync
// that dominates a commit is paid once per batch, not once per request,
// and each request is answered only after its batch has committed.
// Batches form naturally: whatever arrived while the previous commit ran.
type Writer struct {
	appender Appender
	requests chan *request
	// Stored is signalled (without blocking) after every commit that
	// stored a new delivery, to wake the processor.
	stored chan struct{}

	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

type request struct {
	delivery delivery.Delivery
	result   chan result
}

type result struct {
	fresh bool
	err   error
}

// NewWriter returns a writer over a; Run must be running for Append to return.
func NewWriter(a Appender) *Writer {
	return &Writer{
		appender: a,
		requests: make(chan *request),
		stored:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Stored is signalled after a commit that stored at least one new delivery.
func (w *Writer) Stored() <-chan struct{} { return w.stored }

// Append stores d durably and reports whether it was new. A duplicate
// (same source and id) is not an error: it returns false.
func (w *Writer) Append(ctx context.Context, d delivery.Delivery) (fresh bool, err error) {
	req := &request{delivery: d, result: make(chan result, 1)}
	select {
	case w.requests <- req:
	case <-w.stop:
		return false, ErrClosed
	case <-ctx.Done():
		return false, ctx.Err()
	}
	// Once handed over, wait for the commit even if the client gives up:
	// the delivery may be stored, and the answer must say so truthfully.
	r := <-req.result
	return r.fresh, r.err
}

// Delivery returns the delivery stored under source and id: what a
// duplicate is compared with.
func (w *Writer) Delivery(ctx context.Context, source incident.Source, id string) (delivery.Delivery, error) {
	return w.appender.Delivery(ctx, source, id)
}

// Run commits batches until Close. It returns when the last batch is done.
func (w *Writer) Run(ctx context.Context) {
	defer close(w.done)
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case req := <-w.requests:
			batch = append(batch[:0], req)
		case <-w.stop:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-w.requests:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		w.commit(ctx, batch)
	}
}

func (w *Writer) commit(ctx context.Context, batch []*request) {
	ds := make([]delivery.Delivery, len(batch))
	for i, r := range batch {
		ds[i] = r.delivery
	}
	fresh, err := w.appender.AppendDeliveries(context.WithoutCancel(ctx), ds)
	anyFresh := false
	for i, r := range batch {
		if err != nil {
			r.result <- result{err: err}
			continue
		}
		anyFresh = anyFresh || fresh[i]
		r.result <- result{fresh: fresh[i]}
	}
	if anyFresh {
		select {
		case w.stored <- struct{}{}:
		default:
		}
	}
}

// Close stops accepting deliveries and waits for the batch in flight.
func (w *Writer) Close() {
	w.closing.Do(func() { close(w.stop) })
	<-w.done
}
