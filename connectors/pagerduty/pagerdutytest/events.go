package pagerdutytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/incidenthub/incidenthub/connectors/connectortest"
)

// Events is a double of PagerDuty's Events API v2 change events (POST
// /v2/change/enqueue). The Events API is not in PagerDuty's REST
// description, so the double checks each body against the fields the
// Events API documents (docs/events-API-v2/03-Change-Events.md): an
// unknown field, a missing summary, a summary over 1,024 characters, a
// timestamp that is not ISO 8601 or a link without an href is a
// violation, answered 400 as PagerDuty does, and fails the test.
type Events struct {
	*httptest.Server
	mu         sync.Mutex
	events     []ChangeEvent
	violations []string
	// Faults are statuses for the next change events, sent with
	// FaultHeaders; a 5xx one is recorded first, as when PagerDuty took
	// the event but the answer was lost.
	Faults       []int
	FaultHeaders map[string]string
}

// ChangeEvent is a change event as the Events API documents it.
type ChangeEvent struct {
	RoutingKey string `json:"routing_key"`
	Payload    struct {
		Summary       string         `json:"summary"`
		Timestamp     string         `json:"timestamp,omitempty"`
		Source        string         `json:"source,omitempty"`
		CustomDetails map[string]any `json:"custom_details,omitempty"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text,omitempty"`
	} `json:"links,omitempty"`
}

// isoLayouts are the ISO 8601 forms the Events API takes: RFC 3339, and
// the numeric offset without a colon that PagerDuty's own example uses.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700"}

// Validate checks a change event body against the documented fields.
func Validate(body []byte) (ChangeEvent, error) {
	var ev ChangeEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("change event: %w", err)
	}
	var errs []error
	if ev.RoutingKey == "" {
		errs = append(errs, errors.New("routing_key is required"))
	}
	if n := utf8.RuneCountInString(ev.Payload.Summary); n == 0 || n > 1024 {
		errs = append(errs, fmt.Errorf("payload.summary has %d characters, want 1 to 1024", n))
	}
	if ts := ev.Payload.Timestamp; ts != "" && !slices.ContainsFunc(isoLayouts, func(l string) bool {
		_, err := time.Parse(l, ts)
		return err == nil
	}) {
		errs = append(errs, fmt.Errorf("payload.timestamp %q is not ISO 8601", ts))
	}
	for i, l := range ev.Links {
		if u, err := url.Parse(l.Href); err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("links[%d].href %q is not an absolute URL", i, l.Href))
		}
	}
	return ev, errors.Join(errs...)
}

// NewEvents starts the double.
func NewEvents(t connectortest.TB) *Events {
	e := &Events{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/change/enqueue", func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 512<<10)); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		ev, err := Validate(body.Bytes())
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil || r.Header.Get("Content-Type") != "application/json" {
			e.violations = append(e.violations, fmt.Sprintf("content type %q: %v", r.Header.Get("Content-Type"), err))
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{fmt.Sprint(err)}})
			return
		}
		status := http.StatusAccepted
		if len(e.Faults) > 0 {
			status, e.Faults = e.Faults[0], e.Faults[1:]
			for k, v := range e.FaultHeaders {
				w.Header().Set(k, v)
			}
		}
		if status == http.StatusAccepted || status >= 500 {
			e.events = append(e.events, ev)
		}
		w.WriteHeader(status)
		if status == http.StatusAccepted {
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "message": "Change event processed"})
		} else {
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "message": http.StatusText(status)})
		}
	})
	e.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.Close()
		for _, v := range e.Violations() {
			t.Errorf("change event outside the Events API's documented fields: %s", v)
		}
	})
	return e
}

// Sent returns the change events PagerDuty took.
func (e *Events) Sent() []ChangeEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// Violations returns the requests that did not validate.
func (e *Events) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.violations)
}
