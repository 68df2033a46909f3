// Package pagerdutytest is a PagerDuty test double for the REST calls the
// hub makes, behind a server that validates every request against
// PagerDuty's OpenAPI description.
package pagerdutytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/incidenthub/incidenthub/connectors/connectortest"
)

// Fake keeps notes per PagerDuty incident, behind a contract server
// that validates every request against PagerDuty's REST description.
type Fake struct {
	*connectortest.Contract
	mu    sync.Mutex
	notes map[string][]string
	froms []string
	// Faults are statuses for the next note creations; 5xx ones take
	// effect first, as when PagerDuty added the note but the answer was lost.
	Faults []int
	// FaultHeaders are sent with every fault (Retry-After, ratelimit-reset).
	FaultHeaders map[string]string
	// OnNote, when set before use, is called with the page of each note
	// added: a benchmark times a page's first outbound call by it.
	OnNote func(page string)
}

// New starts the double.
func New(t connectortest.TB, opts ...connectortest.Option) *Fake {
	f := &Fake{notes: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents/{id}/notes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []map[string]any{}
		for k, c := range f.notes[r.PathValue("id")] {
			out = append(out, map[string]any{"id": fmt.Sprint("N", k), "content": c, "created_at": "2026-04-01T02:30:00Z"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"notes": out})
	})
	mux.HandleFunc("POST /incidents/{id}/notes", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Note struct {
				Content string `json:"content"`
			} `json:"note"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.froms = append(f.froms, r.Header.Get("From"))
		status := http.StatusCreated
		if len(f.Faults) > 0 {
			status, f.Faults = f.Faults[0], f.Faults[1:]
			for k, v := range f.FaultHeaders {
				w.Header().Set(k, v)
			}
		}
		if status == http.StatusCreated || status >= 500 {
			f.notes[r.PathValue("id")] = append(f.notes[r.PathValue("id")], req.Note.Content)
			if f.OnNote != nil {
				f.OnNote(r.PathValue("id"))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"note": map[string]any{"id": "N", "content": req.Note.Content}})
	})
	f.Contract = connectortest.NewContract(t, connectortest.Spec("pagerduty.rest-openapiv3.trimmed.json"), mux, opts...)
	return f
}

// Notes returns the notes of a PagerDuty incident.
func (f *Fake) Notes(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notes[id])
}

// Froms returns the From header of each note creation.
func (f *Fake) Froms() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.froms)
}
