// Package delivery is the vocabulary of the inbox: a delivery as it
// arrived (a vendor's webhook, or one of the hub's own events), and what
// processing made of it. Plain data, shared by the inbox that stores
// deliveries, the store that keeps them and the pipeline that processes
// them, so that none of those imports another for it.
package delivery

import (
	"fmt"
	"slices"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Status is what processing made of a delivery.
type Status string

// Delivery statuses.
const (
	// StatusPending: stored, not yet processed.
	StatusPending Status = "pending"
	// StatusProcessed: its events changed records.
	StatusProcessed Status = "processed"
	// StatusIgnored: valid, but nothing the hub acts on (unknown event,
	// unmapped repository, duplicate event); the reason says which.
	StatusIgnored Status = "ignored"
	// StatusUnprocessable: signed but not parseable; kept for inspection.
	StatusUnprocessable Status = "unprocessable"
	// StatusDeferred: about a page the hub has not seen yet; processed
	// again as soon as that page is known.
	StatusDeferred Status = "deferred"
	// StatusFailed: processing failed repeatedly; `deliveries replay`
	// queues it again.
	StatusFailed Status = "failed"
)

// Statuses are every delivery status.
var Statuses = []Status{StatusPending, StatusProcessed, StatusIgnored, StatusUnprocessable, StatusDeferred, StatusFailed}

// ParseStatus reads a status filter: "" (any), or one of Statuses.
func ParseStatus(s string) (Status, error) {
	if s == "" || slices.Contains(Statuses, Status(s)) {
		return Status(s), nil
	}
	return "", fmt.Errorf("unknown status %q (want one of pending, processed, ignored, unprocessable, deferred, failed)", s)
}

// Delivery is one webhook request as it arrived.
type Delivery struct {
	// Seq orders deliveries by arrival; processing follows it.
	Seq    int64
	Source incident.Source
	// ID is the vendor's delivery id (X-Webhook-Id, X-GitHub-Delivery,
	// X-Atlassian-Webhook-Identifier), or a hash of the body without one.
	ID string
	// Event is the event name a vendor sends in a header (GitHub's
	// X-GitHub-Event); empty where the body says it.
	Event      string
	ReceivedAt time.Time
	// Headers are the request headers worth keeping for inspection
	// (KeptHeaders), bounded; empty for what the hub reports itself.
	Headers map[string]string
	Body    []byte
	Status  Status
	Reason  string
	// Subject is what a deferred delivery waits for (a PagerDuty incident id).
	Subject     string
	Attempts    int
	ProcessedAt time.Time
}

// Outcome is the result of processing one delivery.
type Outcome struct {
	Status  Status
	Reason  string
	Subject string
}
