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

// Events is a double of PagerDuty's Events API v2: change events (POST
// /v2/change/enqueue) and alert events (POST /v2/enqueue). The Events API is not in PagerDuty's REST
// description, so the double checks each body against the fields the
// Events API documents (docs/events-API-v2/03-Change-Events.md): an
// unknown field, a missing summary, a summary over 1,024 characters, a
// timestamp that is not ISO 8601 or a link without an href is a
// violation, answered 400 as PagerDuty does, and fails the test.
type Events struct {
	*httptest.Server
	mu         sync.Mutex
	events     []ChangeEvent
	alerts     []AlertEvent
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

// AlertEvent is an alert event (trigger, acknowledge, resolve) as the
// Events API documents it (docs/events-API-v2/02-Trigger-Events.md).
type AlertEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key,omitempty"`
	Client      string `json:"client,omitempty"`
	ClientURL   string `json:"client_url,omitempty"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp,omitempty"`
		Component     string         `json:"component,omitempty"`
		Group         string         `json:"group,omitempty"`
		Class         string         `json:"class,omitempty"`
		CustomDetails map[string]any `json:"custom_details,omitempty"`
	} `json:"payload,omitempty"`
	Links  []map[string]string `json:"links,omitempty"`
	Images []map[string]string `json:"images,omitempty"`
}

// ValidateAlert checks an alert event body against the documented fields:
// a trigger needs a payload with a summary (up to 1,024 characters), a
// source and one of the four severities; acknowledge and resolve need the
// dedup_key of the alert; a dedup_key is at most 255 characters.
func ValidateAlert(body []byte) (AlertEvent, error) {
	var ev AlertEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("alert event: %w", err)
	}
	var errs []error
	if ev.RoutingKey == "" {
		errs = append(errs, errors.New("routing_key is required"))
	}
	if n := len(ev.DedupKey); n > 255 {
		errs = append(errs, fmt.Errorf("dedup_key has %d characters, at most 255", n))
	}
	switch ev.EventAction {
	case "trigger":
		p := ev.Payload
		if p == nil {
			errs = append(errs, errors.New("a trigger needs a payload"))
			break
		}
		if n := utf8.RuneCountInString(p.Summary); n == 0 || n > 1024 {
			errs = append(errs, fmt.Errorf("payload.summary has %d characters, want 1 to 1024", n))
		}
		if p.Source == "" {
			errs = append(errs, errors.New("payload.source is required"))
		}
		if !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
			errs = append(errs, fmt.Errorf("payload.severity %q is not critical, error, warning or info", p.Severity))
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			errs = append(errs, fmt.Errorf("%s needs the alert's dedup_key", ev.EventAction))
		}
	default:
		errs = append(errs, fmt.Errorf("event_action %q is not trigger, acknowledge or resolve", ev.EventAction))
	}
	return ev, errors.Join(errs...)
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
		body, ok := readEvent(w, r)
		if !ok {
			return
		}
		ev, err := Validate(body)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil || r.Header.Get("Content-Type") != "application/json" {
			e.refuse(w, fmt.Sprintf("content type %q: %v", r.Header.Get("Content-Type"), err))
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
	mux.HandleFunc("POST /v2/enqueue", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readEvent(w, r)
		if !ok {
			return
		}
		ev, err := ValidateAlert(body)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil {
			e.refuse(w, err.Error())
			return
		}
		e.alerts = append(e.alerts, ev)
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
	})
	e.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.Close()
		for _, v := range e.Violations() {
			t.Errorf("event outside the Events API's documented fields: %s", v)
		}
	})
	return e
}

// readEvent reads an event's body, bounded, and sets the answer's type;
// ok is false when the body was refused.
func readEvent(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, 512<<10)); err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	w.Header().Set("Content-Type", "application/json")
	return b.Bytes(), true
}

// refuse records a violation and answers 400 as PagerDuty does; the
// caller holds e.mu.
func (e *Events) refuse(w http.ResponseWriter, violation string) {
	e.violations = append(e.violations, violation)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{violation}})
}

// Sent returns the change events PagerDuty took.
func (e *Events) Sent() []ChangeEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// Alerts returns the alert events PagerDuty took.
func (e *Events) Alerts() []AlertEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.alerts)
}

// Violations returns the requests that did not validate.
func (e *Events) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.violations)
}
