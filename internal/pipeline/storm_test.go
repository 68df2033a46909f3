package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
)

// stormDelivery is one webhook of a storm.
type stormDelivery struct {
	source  incident.Source
	event   string
	payload fixture
	at      string
}

// stormDeliveries are the webhooks of a storm on payments: pages
// resolving while others of the storm start, then a page well after it;
// and deploys of payments before the storm (in its lookback), during it,
// and after it resolved.
func stormDeliveries(t *testing.T) map[string]stormDelivery {
	base := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
	out := map[string]stormDelivery{}
	for i, offset := range []time.Duration{-30 * time.Minute, 10 * time.Minute, 45 * time.Minute, 85 * time.Minute} {
		at := base.Add(offset).Format(time.RFC3339)
		out[fmt.Sprint("deploy-", i)] = stormDelivery{source: incident.SourceGitHub, event: "deployment_status", at: at,
			payload: deploy(t, 100+i, "success", at).set("deployment_status.id", 900+i)}
	}
	for i, p := range []struct {
		id           string
		start        time.Duration
		resolveAfter time.Duration
	}{{"S1", 0, 4 * time.Minute}, {"S2", 2 * time.Minute, 30 * time.Minute}, {"S3", 9 * time.Minute, time.Minute},
		{"S4", 25 * time.Minute, 2 * time.Minute}, {"L1", 80 * time.Minute, time.Minute}} {
		start := base.Add(p.start)
		for kind, file := range map[string]string{"trigger": "incident.triggered.json", "resolve": "incident.resolved.json"} {
			at := start
			if kind == "resolve" {
				at = start.Add(p.resolveAfter)
			}
			out[p.id+"-"+kind] = stormDelivery{source: incident.SourcePagerDuty, at: at.Format(time.RFC3339),
				payload: load(t, "pagerduty", file).set("event.id", p.id+"-"+kind).
					set("event.occurred_at", at.Format(time.RFC3339)).set("event.data.id", p.id).
					set("event.data.number", 10+i).set("event.data.title", "Payments page "+p.id).
					set("event.data.created_at", start.Format(time.RFC3339)).set("event.data.service.id", "PA2P440")}
		}
	}
	return out
}

// records describes every stored record without its number or the order
// it learnt things in.
func records(t *testing.T, s *store.Store) []string {
	t.Helper()
	list, err := s.Incidents(context.Background(), store.IncidentFilter{Limit: 100})
	require.NoError(t, err)
	var out []string
	for _, r := range list {
		rec, err := s.Incident(context.Background(), r.ID)
		require.NoError(t, err)
		var pages, entries []string
		for _, p := range rec.Pages {
			pages = append(pages, p.ID)
		}
		for _, e := range rec.Timeline {
			if e.Kind != incident.EntryStatusChanged && e.Kind != incident.EntrySeverityChanged {
				entries = append(entries, e.At.Format(time.TimeOnly)+" "+e.Key)
			}
		}
		slices.Sort(pages)
		slices.Sort(entries)
		out = append(out, fmt.Sprintf("%v %q %s opened %s resolved %s: %s", pages, rec.Title, rec.Status,
			rec.OpenedAt.Format(time.TimeOnly), rec.ResolvedAt.Format(time.TimeOnly), strings.Join(entries, ", ")))
	}
	slices.Sort(out)
	return out
}

// Through the store as well as the router: any order of a storm's
// deliveries makes the same records as the order its pages happened in,
// and the same changes on them (a deploy after the storm resolved, decided
// while its resolves were not, is taken off again).
func TestStormIsOrderIndependentThroughTheStore(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		deliveries := stormDeliveries(t)
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range deliveries {
				if !yield(id) {
					return
				}
			}
		})
		inTimeOrder := slices.Clone(ids)
		slices.SortFunc(inTimeOrder, func(a, b string) int { return strings.Compare(deliveries[a].at, deliveries[b].at) })
		run := func(order []string) []string {
			b := setup(t, driver, nil, pipeline.WithActions(discardActions{}))
			for _, id := range order {
				d := deliveries[id]
				b.send(t, d.source, id, d.event, d.payload)
			}
			return records(t, b.store)
		}
		want := run(inTimeOrder)
		require.Len(t, want, 2, "one storm and one page after it:\n%s", strings.Join(want, "\n"))
		require.Contains(t, want[0]+want[1], "change:github:deployment:codertocat/hello-world:100", "the deploy in the storm's lookback")
		require.Contains(t, want[0]+want[1], "change:github:deployment:codertocat/hello-world:101", "the deploy during it")
		r := rand.New(rand.NewPCG(21, 22))
		for range 6 {
			order := slices.Clone(ids)
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			require.Equal(t, want, run(order), "order %v", order)
		}
	})
}
