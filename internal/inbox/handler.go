package inbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
)

// Verifier is what a connector contributes to intake: its signature check
// and where its delivery id lives. Nothing is parsed before verification.
type Verifier interface {
	Source() incident.Source
	// Signed reports whether the headers carry a well-formed signature,
	// so that an unsigned request is refused before its body is read.
	Signed(h http.Header) bool
	// Verify reports whether the headers carry a valid signature of body.
	Verify(h http.Header, body []byte) bool
	// Identify returns the vendor's delivery id ("" if absent) and the
	// event name, where a header carries one.
	Identify(h http.Header) (id, event string)
}

// UnsignedHinter is a Verifier that recognises an unsigned request its
// vendor sends when it is set up another way, and says how to set it up
// so that it signs: the log then tells the operator what to change.
type UnsignedHinter interface {
	UnsignedHint(h http.Header) string
}

func unsignedHint(v Verifier, h http.Header) string {
	if hinter, ok := v.(UnsignedHinter); ok {
		return hinter.UnsignedHint(h)
	}
	return ""
}

// Storer stores a delivery durably and says whether it was new.
type Storer interface {
	Append(ctx context.Context, d delivery.Delivery) (fresh bool, err error)
	// Delivery returns the delivery stored under source and id.
	Delivery(ctx context.Context, source incident.Source, id string) (delivery.Delivery, error)
}

// Handler is the webhook endpoint of one source: bounded read, signature
// check, durable store, then 202. It never answers 4xx to a correctly
// signed delivery: PagerDuty drops a webhook on a 4xx and disables the
// subscription after three drops, so even a malformed signed body is
// stored (and marked unprocessable later) rather than refused.
type Handler struct {
	verifier Verifier
	store    Storer
	maxBody  int64
	budget   *Budget
	log      *slog.Logger
	metrics  *metrics.Metrics
	now      func() time.Time
}

// NewHandler returns the endpoint for v's source: bodies up to maxBody
// bytes, read within budget, the bytes all endpoints may hold at once.
func NewHandler(v Verifier, s Storer, maxBody int64, budget *Budget, log *slog.Logger, m *metrics.Metrics) *Handler {
	return &Handler{
		verifier: v, store: s, maxBody: maxBody, budget: budget, metrics: m, now: time.Now,
		log: log.With("source", string(v.Source())),
	}
}

type answer struct {
	Delivery  string `json:"delivery,omitempty"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	source := h.verifier.Source()
	count := func(outcome string) { h.metrics.Deliveries.WithLabelValues(string(source), outcome).Inc() }
	id, event := h.verifier.Identify(r.Header)
	// Headers are not signed: keep what is stored (and unique) to bounded,
	// valid text, whatever a client sends.
	id, event = headerText(id), headerText(event)
	// The delivery's logger is made only when there is something to say:
	// most deliveries have nothing, and With formats its attributes at
	// once, for every request (measured in docs/performance.md). It names
	// the id as it is when it speaks: a delivery without one is named by
	// its body's hash once that is known, as it is stored and answered.
	log := func() *slog.Logger { return h.log.With("delivery", id, "remote", r.RemoteAddr) }

	// Refuse what can be refused without reading: an unsigned request
	// or one announcing a body over the limit never costs its body's
	// memory.
	if !h.verifier.Signed(r.Header) {
		count("unauthorized")
		if hint := unsignedHint(h.verifier, r.Header); hint != "" {
			log().Warn("delivery refused: no signature", "hint", hint)
		} else {
			log().Warn("delivery refused: no signature")
		}
		reply(w, http.StatusUnauthorized, answer{Error: "missing or invalid signature"})
		return
	}
	if r.ContentLength > h.maxBody {
		count("too_large")
		log().Warn("delivery refused: body over the limit", "limit_bytes", h.maxBody, "content_length", r.ContentLength)
		reply(w, http.StatusRequestEntityTooLarge, answer{Error: "body over intake.max_body_bytes"})
		return
	}
	body, release, err := h.read(w, r)
	defer release()
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.Is(err, errBusy):
			count("busy")
			log().Warn("delivery deferred: intake.max_bytes_in_flight reached; answering 503 so the sender retries")
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusServiceUnavailable, answer{Error: "busy, retry later"})
		case errors.As(err, &tooLarge):
			count("too_large")
			log().Warn("delivery refused: body over the limit", "limit_bytes", h.maxBody)
			reply(w, http.StatusRequestEntityTooLarge, answer{Error: "body over intake.max_body_bytes"})
		default:
			// The client went away mid-body, or sent too slowly; nothing
			// was stored, and the vendor retries what it did not see
			// answered.
			count("unread")
			log().Warn("delivery not read", "err", err)
			reply(w, http.StatusBadRequest, answer{Error: "body could not be read"})
		}
		return
	}
	if !h.verifier.Verify(r.Header, body) {
		count("unauthorized")
		// Never log the signature or a secret: only that it did not match.
		log().Warn("delivery refused: missing or invalid signature")
		reply(w, http.StatusUnauthorized, answer{Error: "missing or invalid signature"})
		return
	}
	if id == "" {
		id = "sha256:" + sum(body)
	}
	fresh, err := h.store.Append(r.Context(), delivery.Delivery{
		Source: source, ID: id, Event: event, ReceivedAt: h.now(), Body: body, Headers: keptHeaders(r.Header),
	})
	if err != nil {
		count("unavailable")
		log().Error("delivery not stored; answering 503 so the sender retries", "err", err)
		reply(w, http.StatusServiceUnavailable, answer{Delivery: id, Error: "store unavailable"})
		return
	}
	if !fresh {
		h.compare(r.Context(), log, source, id, body)
		count("duplicate")
		reply(w, http.StatusOK, answer{Delivery: id, Duplicate: true})
		return
	}
	count("stored")
	reply(w, http.StatusAccepted, answer{Delivery: id})
}

// compare logs a delivery id that came again with another body: the first
// body is kept (a vendor's retry carries the same one), so the second is
// dropped, and someone should know. Both are named by their SHA-256 only.
func (h *Handler) compare(ctx context.Context, log func() *slog.Logger, source incident.Source, id string, body []byte) {
	stored, err := h.store.Delivery(ctx, source, id)
	if err != nil || bytes.Equal(stored.Body, body) {
		return
	}
	h.metrics.Deliveries.WithLabelValues(string(source), "conflict").Inc()
	log().Warn("delivery id came again with another body; the first is kept, this one dropped",
		"stored_sha256", sum(stored.Body), "received_sha256", sum(body))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Reading pace: a body must arrive within readBase plus the time its size
// takes at minRate, so that a connection trickling bytes is cut off
// rather than held for the server's whole read timeout. Vendors send a
// webhook at once.
const (
	readBase = 5 * time.Second
	minRate  = 64 << 10 // bytes a second
)

// read reads the body, at most maxBody bytes, within the budget and the
// reading pace; release gives back the room it takes, once the body is no
// longer held.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (body []byte, release func(), err error) {
	size := h.maxBody
	if r.ContentLength >= 0 {
		size = min(r.ContentLength, h.maxBody)
	}
	release, err = h.budget.reserve(r.Context(), size)
	if err != nil {
		return nil, release, err
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readBase + time.Duration(size/minRate)*time.Second))
	// bytes.MinRead spare: ReadFrom grows the buffer unless that much is
	// free when it looks for the end of the body.
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	return buf.Bytes(), release, err
}

// maxHeaderText bounds a delivery id or event name; vendors' are far
// shorter (a UUID, an event name).
const maxHeaderText = 200

// headerText is a header value as the inbox stores it: valid UTF-8
// without NULs, at most maxHeaderText bytes.
func headerText(s string) string {
	s = incident.CleanText(s)
	if len(s) > maxHeaderText {
		s = strings.ToValidUTF8(s[:maxHeaderText], "")
	}
	return s
}

// maxKeptHeaders bounds the headers kept with a delivery; vendors send
// five to ten worth keeping.
const maxKeptHeaders = 16

// keptHeaders are the headers worth reading back with a delivery
// (`deliveries show`): its content type, user agent, and the X- headers
// in which vendors send their ids, event, signature and retry count.
// Authorization and cookies never are. Names and values are bounded like
// the id, and so is their number.
func keptHeaders(h http.Header) map[string]string {
	kept := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if len(kept) == maxKeptHeaders {
			break
		}
		if name == "Content-Type" || name == "User-Agent" || strings.HasPrefix(name, "X-") && len(name) <= 64 {
			kept[headerText(name)] = headerText(h.Get(name))
		}
	}
	return kept
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}
