package router_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/router"
)

// stormPage is one PagerDuty incident of a generated storm.
type stormPage struct {
	id, service string
	start       time.Time
	ackBy       string        // "" when nobody acknowledges
	resolveIn   time.Duration // after start
}

// stormEvents are the webhooks of the pages, in the order they happened.
func stormEvents(t *testing.T, pages []stormPage) []incident.Event {
	t.Helper()
	type timed struct {
		at time.Time
		ev incident.Event
	}
	var all []timed
	stamp := func(at time.Time) string { return at.UTC().Format(time.RFC3339) }
	for i, p := range pages {
		snapshot := map[string]any{"data.id": p.id, "data.created_at": stamp(p.start), "data.number": 100 + i,
			"data.title": "Storm page " + p.id}
		edit := func(file, kind string, at time.Time) {
			edits := map[string]any{"id": p.id + "-" + kind, "occurred_at": stamp(at)}
			for k, v := range snapshot {
				edits[k] = v
			}
			pl := loadPayload(t, file).with(edits)
			pl.data()["service"].(map[string]any)["id"] = p.service
			all = append(all, timed{at, pl.normalize(t)})
		}
		edit("incident.triggered.json", "trigger", p.start)
		if p.ackBy != "" {
			ack := loadPayload(t, "incident.acknowledged.json")
			ack.event()["agent"].(map[string]any)["summary"] = p.ackBy
			at := p.start.Add(time.Minute)
			edits := map[string]any{"id": p.id + "-ack", "occurred_at": stamp(at), "agent": ack.event()["agent"]}
			for k, v := range snapshot {
				edits[k] = v
			}
			pl := ack.with(edits)
			pl.data()["service"].(map[string]any)["id"] = p.service
			all = append(all, timed{at, pl.normalize(t)})
		}
		edit("incident.resolved.json", "resolve", p.start.Add(p.resolveIn))
	}
	slices.SortStableFunc(all, func(a, b timed) int { return a.at.Compare(b.at) })
	out := make([]incident.Event, len(all))
	for i, x := range all {
		out[i] = x.ev
	}
	return out
}

// shape is what a record must be whatever order its storm arrived in:
// everything but its number, the order pages and responders were added,
// and the status and severity changes the hub saw on the way.
func shape(w *world) []string {
	var out []string
	for id, rec := range w.records {
		var pages, entries []string
		for _, p := range rec.Pages {
			pages = append(pages, p.ID)
		}
		for _, e := range w.entries[id] {
			if e.Kind != incident.EntryStatusChanged && e.Kind != incident.EntrySeverityChanged {
				entries = append(entries, e.At.Format(time.TimeOnly)+" "+e.Key+" "+e.Summary)
			}
		}
		slices.Sort(pages)
		slices.Sort(entries)
		responders := slices.Sorted(slices.Values(rec.Responders))
		out = append(out, fmt.Sprintf("pages=%v title=%q status=%s severity=%s opened=%s acked=%s resolved=%s commander=%q responders=%q\n  %s",
			pages, rec.Title, rec.Status, rec.Severity, rec.OpenedAt.Format(time.TimeOnly), rec.AcknowledgedAt.Format(time.TimeOnly),
			rec.ResolvedAt.Format(time.TimeOnly), rec.Commander, responders, strings.Join(entries, "\n  ")))
	}
	slices.Sort(out)
	return out
}

// Any order of a storm's deliveries yields the same records as the order
// the pages happened in: correlation compares when things started, never
// what was decided first. Storms are groups of pages on one service whose
// starts span at most the merge window (30m), apart from each other by
// more than it; pages resolve while others of their storm are still
// starting, so that a resolve decided first once made later pages a
// record of their own.
func TestStormIsOrderIndependent(t *testing.T) {
	t.Parallel()
	base := at("2021-06-04T13:00:00Z")
	pages := []stormPage{
		// A storm on payments; P1 resolves before P3 and P4 start.
		{id: "P1", service: "PA2P440", start: base, ackBy: "Ana Ortiz", resolveIn: 5 * time.Minute},
		{id: "P2", service: "PA2P440", start: base.Add(2 * time.Minute), resolveIn: 40 * time.Minute},
		{id: "P3", service: "PA2P440", start: base.Add(7 * time.Minute), ackBy: "Bo Li", resolveIn: 3 * time.Minute},
		{id: "P4", service: "PA2P440", start: base.Add(26 * time.Minute), resolveIn: 10 * time.Minute},
		// Checkout at the same time: a record of its own.
		{id: "C1", service: "PLVTM9H", start: base.Add(3 * time.Minute), ackBy: "Cy Park", resolveIn: 20 * time.Minute},
		// A second storm on payments, more than the window after the first.
		{id: "Q1", service: "PA2P440", start: base.Add(70 * time.Minute), resolveIn: time.Minute},
		{id: "Q2", service: "PA2P440", start: base.Add(75 * time.Minute), ackBy: "Ana Ortiz", resolveIn: 5 * time.Minute},
	}
	events := stormEvents(t, pages)

	live := newWorld()
	for _, ev := range events {
		live.apply(t, ev)
	}
	want := shape(live)
	require.Len(t, want, 3, "two storms on payments, one on checkout:\n%s", strings.Join(want, "\n"))
	require.Contains(t, want[0]+want[1]+want[2], "pages=[P1 P2 P3 P4]")

	r := rand.New(rand.NewPCG(11, 12))
	for run := range 300 {
		order := slices.Clone(events)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		w := newWorld()
		for _, ev := range order {
			w.apply(t, ev)
		}
		got := shape(w)
		if !slices.Equal(want, got) {
			var ids []string
			for _, ev := range order {
				ids = append(ids, ev.ID)
			}
			t.Fatalf("run %d, order %v:\nwant\n%s\ngot\n%s", run, ids, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// A change attached while a record looked open comes off once the record's
// resolve, decided since, comes before it; changes in the lookback or
// while it was open stay, and so does the change an awareness record
// announces.
func TestChangesNoLongerFor(t *testing.T) {
	t.Parallel()
	opened := at("2021-06-04T13:00:00Z")
	rec := &incident.Record{ID: 3, Service: "payments", OpenedAt: opened, ResolvedAt: opened.Add(30 * time.Minute),
		Status: incident.StatusResolved, Cause: "announced"}
	change := func(key string, after time.Duration) incident.Change {
		return incident.Change{Key: key, Service: "payments", Kind: incident.ChangeDeploy, At: opened.Add(after)}
	}
	attached := []incident.Change{change("lookback", -time.Hour), change("during", 10*time.Minute),
		change("after", 45*time.Minute), change("announced", 45*time.Minute), change("long-before", -3*time.Hour)}
	r := rules
	r.ChangeLookback = 2 * time.Hour
	var off []string
	for _, a := range router.ChangesNoLongerFor(rec, attached, r) {
		require.Equal(t, int64(3), a.RecordID)
		require.Equal(t, "change:"+a.ChangeKey, a.Entry.Key)
		off = append(off, a.ChangeKey)
	}
	require.Equal(t, []string{"after", "long-before"}, off)

	rec.ResolvedAt, rec.Status = time.Time{}, incident.StatusOpen
	require.Len(t, router.ChangesNoLongerFor(rec, attached, r), 1, "open again: only what is before the lookback")
}

// Every page new to the hub asks for its triage note, once: a redelivery,
// an acknowledgement or a resolve of a known page asks for none.
func TestTriageNoteOncePerPage(t *testing.T) {
	t.Parallel()
	w := newWorld()
	w.rules.TriageNotes = true
	triage := func(d router.Decision) []incident.Action {
		var out []incident.Action
		for _, a := range d.Actions {
			if a.Kind == incident.ActionTriageNote {
				out = append(out, a)
			}
		}
		return out
	}
	apply := func(ev incident.Event) router.Decision { return w.apply(t, ev) }
	trigger := loadPayload(t, "incident.triggered.json")
	first := trigger.with(map[string]any{"id": "t1", "data.id": "PAGE1"}).normalize(t)
	require.Equal(t, []incident.Action{{Kind: incident.ActionTriageNote, Target: "PAGE1"}}, triage(apply(first)), "the page that opens the record")
	require.Equal(t, []incident.Action{{Kind: incident.ActionTriageNote, Target: "PAGE2"}},
		triage(apply(trigger.with(map[string]any{"id": "t2", "data.id": "PAGE2"}).normalize(t))), "a page that joins it")
	require.Empty(t, triage(apply(loadPayload(t, "incident.acknowledged.json").with(map[string]any{"id": "a1", "data.id": "PAGE1"}).normalize(t))))
	require.Empty(t, triage(apply(trigger.with(map[string]any{"id": "t1-again", "data.id": "PAGE1"}).normalize(t))), "a redelivery")

	w = newWorld()
	require.Empty(t, triage(w.apply(t, first)), "off unless notes can be written")
}

// A change that lands while an incident is open is news to its pages:
// one note each. Changes before it opened, on a resolved record, decided
// long after they happened, or with the notes off, ask for none.
func TestLiveChangeNotes(t *testing.T) {
	t.Parallel()
	opened := at("2021-06-04T13:00:00Z")
	rec := incident.Record{ID: 4, Kind: incident.KindIncident, Service: "payments", Status: incident.StatusAcknowledged, OpenedAt: opened,
		Pages: []*incident.Page{{ID: "PAGE1"}, {ID: "PAGE2"}}}
	r := rules
	r.ChangeLookback, r.LiveChangeNotes = 2*time.Hour, true
	now := opened.Add(12 * time.Minute)
	decide := func(r router.Rules, rec incident.Record, after time.Duration) []incident.Action {
		c := incident.Change{Key: "github:deployment:acme/payments:9", Service: "payments", Kind: incident.ChangeDeploy, At: opened.Add(after)}
		d := router.Decide(router.State{Change: &c, Records: []incident.Record{rec}},
			incident.Event{Source: incident.SourceGitHub, ID: "d", Type: incident.EventChange, Change: &c}, r, now)
		require.Len(t, d.Attach, 1)
		return d.Attach[0].Actions
	}
	require.Equal(t, []incident.Action{
		{Kind: incident.ActionLiveChangeNote, Target: "PAGE1", Change: "github:deployment:acme/payments:9"},
		{Kind: incident.ActionLiveChangeNote, Target: "PAGE2", Change: "github:deployment:acme/payments:9"},
	}, decide(r, rec, 10*time.Minute), "a fix deploy while it is open")
	require.Empty(t, decide(r, rec, -10*time.Minute), "before it opened: in the triage notes")
	now = opened.Add(2 * time.Hour)
	require.Empty(t, decide(r, rec, 10*time.Minute), "delivered late or replayed: on the timeline, no news")
	now = opened.Add(12 * time.Minute)
	resolved := rec
	resolved.Status, resolved.ResolvedAt = incident.StatusResolved, opened.Add(time.Hour)
	require.Empty(t, decide(r, resolved, 10*time.Minute), "resolved: nobody is paged any more")
	r.LiveChangeNotes = false
	require.Empty(t, decide(r, rec, 10*time.Minute), "switched off")
}

// A change goes to PagerDuty's recent changes once: when the event that
// makes it take effect is decided, and only for a service with a routing
// key.
func TestChangeEvents(t *testing.T) {
	t.Parallel()
	r := rules
	r.Services = []router.Service{{Name: "payments", GitHubRepos: []string{"acme/payments"}, DeployEnvironments: []string{"production"}, ChangeEvents: true},
		{Name: "checkout", GitHubRepos: []string{"acme/checkout"}, DeployEnvironments: []string{"production"}}}
	t0 := at("2021-06-04T13:00:00Z")
	deploy := func(repo, state string, succeeded time.Time) incident.Change {
		return incident.Change{Key: "github:deployment:" + repo + ":9", Kind: incident.ChangeDeploy, Repo: repo, Environment: "production",
			State: state, StateAt: t0, SucceededAt: succeeded}
	}
	decide := func(known *incident.Change, c incident.Change) []incident.Action {
		ev := incident.Event{Source: incident.SourceGitHub, ID: "d", Type: incident.EventChange, Change: &c}
		merged, reason := router.MergeChange(known, ev, r)
		require.Empty(t, reason)
		return router.Decide(router.State{Change: &merged, Known: known}, ev, r, t0).ChangeActions
	}
	pending := deploy("acme/payments", "in_progress", time.Time{})
	success := deploy("acme/payments", "success", t0)
	want := []incident.Action{{Kind: incident.ActionChangeEvent, Change: "github:deployment:acme/payments:9"}}
	require.Empty(t, decide(nil, pending), "not in effect yet")
	require.Equal(t, want, decide(&pending, success), "its first success")
	require.Empty(t, decide(&success, deploy("acme/payments", "inactive", time.Time{})), "a later status")
	require.Empty(t, decide(&success, success), "a redelivery")
	require.Empty(t, decide(nil, deploy("acme/payments", "failure", time.Time{})), "a failed deploy took no effect")
	require.Empty(t, decide(nil, deploy("acme/checkout", "success", t0)), "a service without a routing key")
	merge := incident.Change{Key: "github:pr:acme/payments:7", Kind: incident.ChangeMerge, Repo: "acme/payments", At: t0}
	require.Equal(t, []incident.Action{{Kind: incident.ActionChangeEvent, Change: merge.Key}}, decide(nil, merge), "a merge at once")
	require.Empty(t, decide(&merge, merge), "once")
}

// A change whose time moved past a record's resolve (a deployment's first
// success came later) comes off the records holding it when it is
// decided; the change an awareness record announces stays on it.
func TestChangeComesOffWhenItsTimeMoves(t *testing.T) {
	t.Parallel()
	opened := at("2021-06-04T13:00:00Z")
	resolved := &incident.Record{ID: 3, Service: "payments", OpenedAt: opened, ResolvedAt: opened.Add(30 * time.Minute),
		Status: incident.StatusResolved}
	announcing := &incident.Record{ID: 4, Service: "payments", Kind: incident.KindAwareness, OpenedAt: opened,
		ResolvedAt: opened.Add(10 * time.Minute), Status: incident.StatusResolved, Cause: "github:deployment:acme/payments:8"}
	open := &incident.Record{ID: 5, Service: "payments", OpenedAt: opened, Status: incident.StatusOpen}
	c := incident.Change{Key: "github:deployment:acme/payments:8", Service: "payments", Kind: incident.ChangeDeploy,
		Repo: "acme/payments", Environment: "production", State: "success", At: opened.Add(45 * time.Minute)}
	r := rules
	r.ChangeLookback = 2 * time.Hour
	st := router.State{Change: &c, Records: []incident.Record{*open}, Holding: []incident.Record{*resolved, *announcing, *open}}
	d := router.Decide(st, incident.Event{Source: incident.SourceGitHub, ID: "g2", Type: incident.EventChange, Change: &c}, r, opened)
	var off []int64
	for _, a := range d.Detach {
		require.Equal(t, "change:"+c.Key, a.Entry.Key)
		off = append(off, a.RecordID)
	}
	require.Equal(t, []int64{3}, off)
	require.Len(t, d.Attach, 1, "the open record keeps it")
}
