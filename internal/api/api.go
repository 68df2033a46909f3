// Package api serves the read API, /api/v1/incidents, behind bearer tokens.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module contributes the API routes, or none when no token is configured.
var Module = fx.Module("api",
	fx.Provide(fx.Annotate(Routes, fx.ResultTags(`group:"routes,flatten"`))),
	fx.Provide(fx.Private, func(s *store.Store) Reader { return s }),
)

// ReviewPreviewer renders what the hub would post as a record's review
// doc, and its summary comment ("" before the incident resolves). The
// GitHub connector provides it.
type ReviewPreviewer interface {
	Preview(ctx context.Context, id int64, now time.Time) (doc, summary string, err error)
}

// Reader is what the API reads.
type Reader interface {
	Incidents(ctx context.Context, f store.IncidentFilter) ([]incident.Record, error)
	Incident(ctx context.Context, id int64) (incident.Record, error)
}

const pageSize = 50

// RoutesParams are what the API serves from.
type RoutesParams struct {
	fx.In

	Config  config.API
	Reader  Reader
	Preview ReviewPreviewer `optional:"true"`
	Log     *slog.Logger
}

// Routes returns the API's routes. With no token configured the API is
// off, never open by accident, and the start-up log says so.
func Routes(p RoutesParams) []httpserver.Route {
	cfg, r, log := p.Config, p.Reader, p.Log
	if len(cfg.Tokens) == 0 {
		log.Warn("read API is off: no api.tokens configured")
		return nil
	}
	a := &authorizer{tokens: cfg.Tokens}
	h := &handlers{reader: r, preview: p.Preview}
	routes := []httpserver.Route{
		{Pattern: "GET /api/v1/incidents", Handler: a.wrap(http.HandlerFunc(h.list))},
		{Pattern: "GET /api/v1/incidents/{id}", Handler: a.wrap(http.HandlerFunc(h.show))},
	}
	if p.Preview != nil {
		routes = append(routes, httpserver.Route{Pattern: "GET /api/v1/incidents/{id}/review.md", Handler: a.wrap(http.HandlerFunc(h.review))})
	}
	return routes
}

type authorizer struct {
	// tokens are read for each request (a rotated secret file takes
	// effect at once) and compared hashed, so that a comparison takes the
	// same time whatever the length of the presented token.
	tokens []config.Secret
}

func (a *authorizer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(presented))
		match := 0
		for _, t := range a.tokens {
			want := sha256.Sum256([]byte(t.Value()))
			match |= subtle.ConstantTimeCompare(sum[:], want[:])
		}
		if !ok || match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="incidenthub"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer is the token of an Authorization header; the scheme's name is
// case-insensitive (RFC 9110 §11.1), so "bearer" and "BEARER" do too.
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

type handlers struct {
	reader  Reader
	preview ReviewPreviewer
}

// review serves the review doc as the hub would post it now, as
// markdown: the doc, then the summary comment after a rule once the
// incident resolved.
func (h *handlers) review(w http.ResponseWriter, r *http.Request) {
	id, err := incident.ParseRef(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	doc, summary, err := h.preview.Preview(r.Context(), id, time.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, incident.FormatRef(id)+" not found")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, PreviewText(doc, summary))
}

// PreviewText joins a previewed doc and its summary comment as the CLI
// and the API show them.
func PreviewText(doc, summary string) string {
	if summary == "" {
		return doc
	}
	return doc + "\n\n---\n<!-- the summary comment -->\n\n" + summary + "\n"
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.IncidentFilter{
		Service:  q.Get("service"),
		Severity: q.Get("severity"),
		Limit:    pageSize + 1,
	}
	var err error
	if f.Status, err = incident.ParseStatus(q.Get("status")); err != nil {
		writeError(w, http.StatusBadRequest, "status: "+err.Error())
		return
	}
	if c := q.Get("cursor"); c != "" {
		before, err := incident.ParseRef(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, "cursor: "+err.Error())
			return
		}
		f.Before = before
	}
	recs, err := h.reader.Incidents(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := List{Incidents: make([]Incident, 0, len(recs))}
	if len(recs) > pageSize {
		recs = recs[:pageSize]
		out.Next = recs[len(recs)-1].Ref()
	}
	for i := range recs {
		out.Incidents = append(out.Incidents, FromRecord(&recs[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) show(w http.ResponseWriter, r *http.Request) {
	id, err := incident.ParseRef(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	rec, err := h.reader.Incident(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, incident.FormatRef(id)+" not found")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
	default:
		writeJSON(w, http.StatusOK, FromRecord(&rec))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
