// Package reporttest is a fixture set of incidents whose report figures
// were computed by hand (Expected), for the report's unit test and for
// `incidenthub report` and `export` through the binary. Its people carry
// names, logins and emails that no export may show (People).
package reporttest

import (
	"context"
	"fmt"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Period is what the expected report covers: September 2026.
var (
	Since = at("2026-09-01T00:00:00Z")
	Until = at("2026-10-01T00:00:00Z")
)

// People are the names, logins and emails in the fixtures: an export
// must contain none of them.
var People = []string{"Harsh Santwani", "Ana Ortiz", "ana.ortiz@acme.example", "harsh@acme.example", "codertocat", "Priya Raman",
	"Dana Kim", "Lee Park", "Sam Roe"}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func page(id string) *incident.Page {
	return &incident.Page{ID: id, Title: "page " + id, ServiceID: "PA2P440", Status: incident.PageResolved, Severity: "SEV2"}
}

// Fixture is a record with what it is stored with.
type Fixture struct {
	Record incident.Record
	// Entries go on its timeline; Changes are attached; FollowUps are its.
	Entries   []incident.TimelineEntry
	Changes   []incident.Change
	FollowUps []incident.FollowUp
}

// Fixtures are eight records. Left out of September's report: a drill,
// and an incident opened on 31 August. The figures in Expected follow
// from them by hand.
func Fixtures() []Fixture {
	return []Fixture{
		{ // 1: SEV2 on payments: acked in 6m, resolved in 50m; a deploy 20m before; review closed on time, both sections written.
			Record: incident.Record{Title: "Checkout API 5xx above 2%", Status: incident.StatusClosed, Kind: incident.KindIncident,
				Severity: "SEV2", Service: "payments", CorrelationKey: "payments", Commander: "Harsh Santwani",
				Responders: []string{"Harsh Santwani", "Ana Ortiz"},
				Roles:      []incident.Role{{Name: "Incident Commander", Person: "Harsh Santwani", Since: at("2026-09-02T10:06:00Z")}},
				OpenedAt:   at("2026-09-02T10:00:00Z"), AcknowledgedAt: at("2026-09-02T10:06:00Z"), ResolvedAt: at("2026-09-02T10:50:00Z"),
				Pages:     []*incident.Page{page("PAGE1A"), page("PAGE1B")},
				ReviewDoc: "https://github.com/acme/incidents/issues/1", ReviewDocNumber: 1, ReviewDue: at("2026-09-05T10:00:00Z"),
				Learned: []string{"who_knew", "surprised"}},
			Entries: []incident.TimelineEntry{
				{At: at("2026-09-02T10:06:00Z"), Source: "pagerduty", Kind: incident.EntryPageAcknowledged, Key: "f1:ack", Summary: "#5 acknowledged by Harsh Santwani"},
				{At: at("2026-09-02T10:20:00Z"), Source: "pagerduty", Kind: incident.EntryNote, Key: "f1:note",
					Summary: "Note by Ana Ortiz on #5: paging harsh@acme.example and @codertocat about the pool"},
				{At: at("2026-09-04T12:00:00Z"), Source: "github", Kind: incident.EntryReviewClosed, Key: "f1:closed", Summary: "Review closed by codertocat; the incident is closed"},
			},
			Changes: []incident.Change{{Key: "github:deployment:acme/payments:1", Service: "payments", Kind: incident.ChangeDeploy,
				Repo: "acme/payments", SHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Environment: "production", State: "success",
				Actor: "codertocat", At: at("2026-09-02T09:40:00Z"), StateAt: at("2026-09-02T09:40:00Z")}},
			FollowUps: []incident.FollowUp{
				{Key: "f1:fu:done", Title: "Alert on pool saturation", Status: incident.FollowUpDone, RequestedBy: "Ana Ortiz",
					RequestedAt: at("2026-09-04T12:00:00Z"), StatusAt: at("2026-09-10T12:00:00Z"), JiraKey: "PAY-1", Assignee: "Priya Raman"},
				{Key: "f1:fu:open", Title: "Pair on the pool code", Status: incident.FollowUpOpen, RequestedBy: "ana.ortiz@acme.example",
					RequestedAt: at("2026-09-04T12:00:00Z")},
			},
		},
		{ // 2: SEV2: acked in 2m, resolved in 3h; a merge while open (not recent); review closed late, one section.
			Record: incident.Record{Title: "Payments error rate", Status: incident.StatusClosed, Kind: incident.KindIncident,
				Severity: "SEV2", Service: "payments", CorrelationKey: "payments", Commander: "Ana Ortiz", Responders: []string{"Ana Ortiz"},
				OpenedAt: at("2026-09-10T08:00:00Z"), AcknowledgedAt: at("2026-09-10T08:02:00Z"), ResolvedAt: at("2026-09-10T11:00:00Z"),
				Pages:     []*incident.Page{page("PAGE2A")},
				ReviewDoc: "https://github.com/acme/incidents/issues/2", ReviewDocNumber: 2, ReviewDue: at("2026-09-13T11:00:00Z"),
				Learned: []string{"surprised"}},
			Entries: []incident.TimelineEntry{
				{At: at("2026-09-10T08:05:00Z"), Source: "pagerduty", Kind: incident.EntryPageReassigned, Key: "f2:reassigned",
					Summary: "#6 reassigned to Lee Park, Ana Ortiz by Dana Kim"},
				{At: at("2026-09-10T08:06:00Z"), Source: "pagerduty", Kind: incident.EntryRoleUnassigned, Key: "f2:role",
					Summary: "Incident Commander unassigned on #6 (was Sam Roe) by Dana Kim"},
				{At: at("2026-09-10T08:30:00Z"), Source: "pagerduty", Kind: incident.EntryStatusUpdate, Key: "f2:status",
					Summary: "Status update by Dana Kim: Lee Park and Sam Roe are on it"},
				{At: at("2026-09-20T09:00:00Z"), Source: "github", Kind: incident.EntryReviewClosed, Key: "f2:closed", Summary: "Review closed by Ana Ortiz"},
			},
			Changes: []incident.Change{{Key: "github:pull:acme/payments:88", Service: "payments", Kind: incident.ChangeMerge,
				Repo: "acme/payments", PRNumber: 88, Title: "Revert pool change", Actor: "codertocat",
				At: at("2026-09-10T09:00:00Z"), StateAt: at("2026-09-10T09:00:00Z")}},
		},
		{ // 3: SEV2, still open: acked in 20m, four pages, no review.
			Record: incident.Record{Title: "Ledger lag", Status: incident.StatusAcknowledged, Kind: incident.KindIncident,
				Severity: "SEV2", Service: "payments", CorrelationKey: "payments", Commander: "Harsh Santwani",
				OpenedAt: at("2026-09-20T22:00:00Z"), AcknowledgedAt: at("2026-09-20T22:20:00Z"),
				Pages: []*incident.Page{page("PAGE3A"), page("PAGE3B"), page("PAGE3C"), page("PAGE3D")}},
		},
		{ // 4: SEV1 that began as an announced migration, then paged: acked in 1m, resolved in 30m, a deploy 10m before.
			Record: incident.Record{Title: "Schema migration", Status: incident.StatusResolved, Kind: incident.KindIncident,
				Severity: "SEV1", Service: "payments", CorrelationKey: "payments", Commander: "Priya Raman",
				OpenedAt: at("2026-09-15T14:00:00Z"), AcknowledgedAt: at("2026-09-15T14:01:00Z"), ResolvedAt: at("2026-09-15T14:30:00Z"),
				Pages: []*incident.Page{page("PAGE4A")}},
			Entries: []incident.TimelineEntry{{At: at("2026-09-15T14:00:00Z"), Source: "pagerduty", Kind: incident.EntryKindChanged,
				Key: "f4:kind", Summary: "Paged during the announced change: this is an incident now"}},
			Changes: []incident.Change{{Key: "github:deployment:acme/payments:4", Service: "payments", Kind: incident.ChangeDeploy,
				Repo: "acme/payments", SHA: "a1b2c3d4", Environment: "production", State: "success", Actor: "codertocat",
				Labels: []string{"risky-migration"}, At: at("2026-09-15T13:50:00Z"), StateAt: at("2026-09-15T13:50:00Z")}},
		},
		{ // 5: an announced change nothing paged on.
			Record: incident.Record{Title: "Announced: index rebuild", Status: incident.StatusResolved, Kind: incident.KindAwareness,
				Severity: "SEV4", Service: "payments", CorrelationKey: "payments", OpenedAt: at("2026-09-25T09:00:00Z"),
				ResolvedAt: at("2026-09-25T15:00:00Z")},
		},
		{ // 6: a drill: counted nowhere.
			Record: incident.Record{Title: "[DRILL] Card payments time out", Status: incident.StatusResolved, Kind: incident.KindDrill,
				Severity: "SEV2", Service: "payments", CorrelationKey: "drill:0011", Drill: "0011", Commander: "Ana Ortiz",
				OpenedAt: at("2026-09-08T10:00:00Z"), AcknowledgedAt: at("2026-09-08T10:03:00Z"), ResolvedAt: at("2026-09-08T10:40:00Z")},
		},
		{ // 7: opened on 31 August: before the period.
			Record: incident.Record{Title: "Checkout slow", Status: incident.StatusResolved, Kind: incident.KindIncident,
				Severity: "SEV2", Service: "checkout", CorrelationKey: "checkout",
				OpenedAt: at("2026-08-31T23:00:00Z"), ResolvedAt: at("2026-09-01T01:00:00Z"), Pages: []*incident.Page{page("PAGE7A")}},
		},
		{ // 8: SEV3 on checkout: never acknowledged, resolved in 10m.
			Record: incident.Record{Title: "Checkout cart errors", Status: incident.StatusResolved, Kind: incident.KindIncident,
				Severity: "SEV3", Service: "checkout", CorrelationKey: "checkout",
				OpenedAt: at("2026-09-05T16:00:00Z"), ResolvedAt: at("2026-09-05T16:10:00Z"), Pages: []*incident.Page{page("PAGE8A")}},
		},
	}
}

// Records are the fixtures as the store reads them back (store.Incident).
func Records() []incident.Record {
	var out []incident.Record
	for i, f := range Fixtures() {
		r := f.Record
		r.ID = int64(i + 1)
		r.Timeline, r.Changes = f.Entries, f.Changes
		for _, fu := range f.FollowUps {
			fu.IncidentID = r.ID
			r.FollowUps = append(r.FollowUps, fu)
		}
		out = append(out, r)
	}
	return out
}

// Store saves the fixtures into an empty store, as INC-1 to INC-8.
func Store(ctx context.Context, s *store.Store) error {
	return s.Update(ctx, func(tx *store.Tx) error {
		for i, f := range Fixtures() {
			rec := f.Record
			if err := tx.SaveRecord(ctx, &rec, f.Entries); err != nil {
				return err
			}
			if rec.ID != int64(i+1) {
				return fmt.Errorf("fixture %d saved as %s: the store was not empty", i+1, rec.Ref())
			}
			for _, c := range f.Changes {
				if err := tx.SaveChange(ctx, &c); err != nil {
					return err
				}
				if err := tx.AttachChange(ctx, rec.ID, c.Key, incident.TimelineEntry{At: c.At, Source: "github",
					Kind: incident.EntryChange, Key: "change:" + c.Key, Summary: c.Summary()}); err != nil {
					return err
				}
			}
			for _, fu := range f.FollowUps {
				fu.IncidentID = rec.ID
				if err := tx.SaveFollowUp(ctx, &fu); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Expected is September's report of the fixtures, computed by hand:
//
//   - payments SEV2 (1, 2, 3): acknowledged in 6m, 2m, 20m: sorted 2, 6,
//     20, the median (nearest rank 2 of 3) 6m, the p90 (rank 3) 20m;
//     resolved in 50m and 3h (3 is open): median (rank 1 of 2) 50m, p90
//     (rank 2) 3h; 7 pages over 3 incidents; one with a change before it
//     opened (1; 2's merge came while open); reviews 2 opened, 2 closed,
//     1 on time (2 closed a week late); follow-ups of 1: one open since
//     4 September noon (26.5 days on 1 October), one done in 6 days;
//   - payments SEV1 (4): 1m, 30m, a deploy 10m before; it was announced
//     and then paged;
//   - payments SEV4 (5): announced, never paged: no incident;
//   - checkout SEV3 (8): never acknowledged, resolved in 10m;
//   - total: acknowledged 1, 2, 6, 20m: median (rank 2 of 4) 2m, p90
//     (rank 4) 20m; resolved 10, 30, 50m, 3h: median 30m, p90 3h; 9 pages
//     over 5 incidents; 2 of 5 with a recent change;
//   - weeks from Monday 31 August: 1 SEV2 and 1 SEV3 (median resolve of
//     10 and 50m: 10m); 1 SEV2 (3h); 1 SEV1 and 1 SEV2 (30m, the SEV2
//     still open); none; none.
const Expected = `{
  "since": "2026-09-01T00:00:00Z", "until": "2026-10-01T00:00:00Z",
  "total": {"incidents": 5,
    "time_to_acknowledge": {"count": 4, "median_seconds": 120, "p90_seconds": 1200},
    "time_to_resolve": {"count": 4, "median_seconds": 1800, "p90_seconds": 10800},
    "pages": {"total": 9, "per_incident": 1.8, "most": 4},
    "with_recent_change": 2, "change_share": 0.4,
    "reviews": {"opened": 2, "closed": 2, "closed_on_time": 1},
    "follow_ups": {"open": 1, "closed": 1, "open_age_median_days": 26.5, "oldest_open_days": 26.5, "closed_in_median_days": 6},
    "awareness": {"announced": 2, "paged": 1},
    "learning": {"closed_reviews": 2, "who_knew": 1, "surprised": 2, "both": 1}},
  "groups": [
    {"service": "checkout", "severity": "SEV3", "incidents": 1,
      "time_to_acknowledge": {"count": 0, "median_seconds": 0, "p90_seconds": 0},
      "time_to_resolve": {"count": 1, "median_seconds": 600, "p90_seconds": 600},
      "pages": {"total": 1, "per_incident": 1, "most": 1}, "with_recent_change": 0, "change_share": 0,
      "reviews": {"opened": 0, "closed": 0, "closed_on_time": 0},
      "follow_ups": {"open": 0, "closed": 0, "open_age_median_days": 0, "oldest_open_days": 0, "closed_in_median_days": 0},
      "awareness": {"announced": 0, "paged": 0}, "learning": {"closed_reviews": 0, "who_knew": 0, "surprised": 0, "both": 0}},
    {"service": "payments", "severity": "SEV1", "incidents": 1,
      "time_to_acknowledge": {"count": 1, "median_seconds": 60, "p90_seconds": 60},
      "time_to_resolve": {"count": 1, "median_seconds": 1800, "p90_seconds": 1800},
      "pages": {"total": 1, "per_incident": 1, "most": 1}, "with_recent_change": 1, "change_share": 1,
      "reviews": {"opened": 0, "closed": 0, "closed_on_time": 0},
      "follow_ups": {"open": 0, "closed": 0, "open_age_median_days": 0, "oldest_open_days": 0, "closed_in_median_days": 0},
      "awareness": {"announced": 1, "paged": 1}, "learning": {"closed_reviews": 0, "who_knew": 0, "surprised": 0, "both": 0}},
    {"service": "payments", "severity": "SEV2", "incidents": 3,
      "time_to_acknowledge": {"count": 3, "median_seconds": 360, "p90_seconds": 1200},
      "time_to_resolve": {"count": 2, "median_seconds": 3000, "p90_seconds": 10800},
      "pages": {"total": 7, "per_incident": 2.33, "most": 4}, "with_recent_change": 1, "change_share": 0.33,
      "reviews": {"opened": 2, "closed": 2, "closed_on_time": 1},
      "follow_ups": {"open": 1, "closed": 1, "open_age_median_days": 26.5, "oldest_open_days": 26.5, "closed_in_median_days": 6},
      "awareness": {"announced": 0, "paged": 0}, "learning": {"closed_reviews": 2, "who_knew": 1, "surprised": 2, "both": 1}},
    {"service": "payments", "severity": "SEV4", "incidents": 0,
      "time_to_acknowledge": {"count": 0, "median_seconds": 0, "p90_seconds": 0},
      "time_to_resolve": {"count": 0, "median_seconds": 0, "p90_seconds": 0},
      "pages": {"total": 0, "per_incident": 0, "most": 0}, "with_recent_change": 0, "change_share": 0,
      "reviews": {"opened": 0, "closed": 0, "closed_on_time": 0},
      "follow_ups": {"open": 0, "closed": 0, "open_age_median_days": 0, "oldest_open_days": 0, "closed_in_median_days": 0},
      "awareness": {"announced": 1, "paged": 0}, "learning": {"closed_reviews": 0, "who_knew": 0, "surprised": 0, "both": 0}}
  ],
  "weeks": [
    {"start": "2026-08-31T00:00:00Z", "by_severity": {"SEV2": 1, "SEV3": 1}, "time_to_resolve": {"count": 2, "median_seconds": 600, "p90_seconds": 3000}},
    {"start": "2026-09-07T00:00:00Z", "by_severity": {"SEV2": 1}, "time_to_resolve": {"count": 1, "median_seconds": 10800, "p90_seconds": 10800}},
    {"start": "2026-09-14T00:00:00Z", "by_severity": {"SEV1": 1, "SEV2": 1}, "time_to_resolve": {"count": 1, "median_seconds": 1800, "p90_seconds": 1800}},
    {"start": "2026-09-21T00:00:00Z", "by_severity": {}, "time_to_resolve": {"count": 0, "median_seconds": 0, "p90_seconds": 0}},
    {"start": "2026-09-28T00:00:00Z", "by_severity": {}, "time_to_resolve": {"count": 0, "median_seconds": 0, "p90_seconds": 0}}
  ]
}`
