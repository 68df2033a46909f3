package router_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// rules mirror config/incidenthub.example.yaml.
var rules = router.Rules{
	Severities: []router.Severity{
		{Name: "SEV1", Priorities: []string{"P1"}},
		{Name: "SEV2", Priorities: []string{"P2"}, Urgency: "high"},
		{Name: "SEV3", Priorities: []string{"P3"}},
		{Name: "SEV4", Priorities: []string{"P4", "P5"}, Urgency: "low"},
	},
	Services: []router.Service{
		{Name: "payments", PagerDutyServiceIDs: []string{"PA2P440"}},
		{Name: "checkout", PagerDutyServiceIDs: []string{"PLVTM9H"}},
	},
	MergeWindow: 30 * time.Minute,
}

// payload is a real PagerDuty delivery, decoded for editing in tests.
type payload map[string]any

func loadPayload(t *testing.T, file string) payload {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "pagerduty", file))
	require.NoError(t, err)
	var p payload
	require.NoError(t, json.Unmarshal(raw, &p))
	return p
}

func (p payload) event() map[string]any { return p["event"].(map[string]any) }
func (p payload) data() map[string]any  { return p.event()["data"].(map[string]any) }

// with returns a copy with the edits applied: event fields by name, and
// "data.<field>" for the incident snapshot.
func (p payload) with(edits map[string]any) payload {
	raw, _ := json.Marshal(p)
	var c payload
	_ = json.Unmarshal(raw, &c)
	for k, v := range edits {
		if field, ok := strings.CutPrefix(k, "data."); ok {
			c.data()[field] = v
		} else {
			c.event()[k] = v
		}
	}
	return c
}

// normalize runs the payload through the real connector.
func (p payload) normalize(t *testing.T) incident.Event {
	t.Helper()
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	evs, err := pagerduty.Normalizer{}.Normalize(delivery.Delivery{Source: incident.SourcePagerDuty, Body: raw})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	return evs[0]
}

// world applies decisions as the store would: ids, a page index, and
// timeline entries deduplicated by key.
type world struct {
	records  map[int64]incident.Record
	pages    map[string]int64
	entries  map[int64][]incident.TimelineEntry
	keys     map[string]bool
	decision router.Decision
	rules    router.Rules
}

// newWorld starts from the shared rules with slices of its own, so that
// a parallel test editing a severity or service races no other test.
func newWorld() *world {
	r := rules
	r.Severities = slices.Clone(rules.Severities)
	r.Services = slices.Clone(rules.Services)
	return &world{
		records: map[int64]incident.Record{},
		pages:   map[string]int64{},
		entries: map[int64][]incident.TimelineEntry{},
		keys:    map[string]bool{},
		rules:   r,
	}
}

func (w *world) apply(t *testing.T, ev incident.Event) router.Decision {
	t.Helper()
	q := router.QueryFor(ev, w.rules)
	var st router.State
	if id, ok := w.pages[q.PageID]; ok {
		rec := w.records[id]
		st.Owner = &rec
	}
	if rec, ok := w.records[q.RecordID]; ok {
		// As the store loads it: the record named wins.
		st.Owner = &rec
	}
	if st.Owner == nil && q.CorrelationKey != "" {
		for _, id := range slices.Sorted(maps.Keys(w.records)) {
			// As the store's ActiveRecords chooses them.
			r := w.records[id]
			inWindow := !r.OpenedAt.Before(q.OpenedFrom) && !r.OpenedAt.After(q.OpenedTo)
			announced := r.Kind == incident.KindAwareness && r.Status.Active() && !r.OpenedAt.After(q.OpenedTo)
			if r.CorrelationKey == q.CorrelationKey && r.Status != incident.StatusClosed && (inWindow || announced) {
				st.Active = append(st.Active, r)
			}
		}
	}
	given := copyState(st)
	d := router.Decide(st, ev, w.rules, time.Time{})
	// The store hands Decide the records it keeps in memory for the rest
	// of a batch: Decide may read them, never change them.
	require.Equal(t, given, st, "Decide changed the state it was given")
	w.decision = d
	if d.Record == nil {
		return d
	}
	rec := d.Record.Clone()
	if rec.ID == 0 {
		rec.ID = int64(len(w.records) + 1)
	}
	w.records[rec.ID] = rec
	for _, p := range rec.Pages {
		w.pages[p.ID] = rec.ID
	}
	for _, e := range d.Entries {
		if !w.keys[e.Key] {
			w.keys[e.Key] = true
			w.entries[rec.ID] = append(w.entries[rec.ID], e)
		}
	}
	return d
}

// copyState copies what a State points to, down to each page's
// assignees.
func copyState(st router.State) router.State {
	deep := func(r incident.Record) incident.Record {
		// Pages are shared between copies: copy each, so that a page
		// changed in place shows.
		c := r.Clone()
		for i, p := range c.Pages {
			own := *p
			own.Assignees = slices.Clone(p.Assignees)
			c.Pages[i] = &own
		}
		return c
	}
	out := st
	if st.Owner != nil {
		o := deep(*st.Owner)
		out.Owner = &o
	}
	out.Active = nil
	for _, r := range st.Active {
		out.Active = append(out.Active, deep(r))
	}
	return out
}

// kinds lists a record's entry kinds in the order things happened.
func (w *world) kinds(id int64) []string {
	es := slices.Clone(w.entries[id])
	slices.SortStableFunc(es, func(a, b incident.TimelineEntry) int { return a.At.Compare(b.At) })
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
