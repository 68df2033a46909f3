// Package report computes what a team's incidents say over a period: how
// fast pages were answered and resolved, whether reviews happened and on
// time, what the follow-ups came to, and the signals of learning that
// PRACTICES.md values over action items: reviews whose "who knew what"
// and "how did our systems surprise us" sections people filled in.
//
// It is plain computation over records read from the store: the CLI
// prints it, and the GitHub connector posts it as a monthly issue. Drills
// are training, and counted nowhere.
package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Options choose what a report covers.
type Options struct {
	// Since and Until bound when records opened: [Since, Until).
	Since, Until time.Time
	// Service keeps one service; empty keeps all.
	Service string
	// Now is when the report is made: the age of open follow-ups.
	Now time.Time
	// Severities orders the groups, most severe first.
	Severities []string
}

// Report is the figures of one period.
type Report struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Service string    `json:"service,omitempty"`
	// Total is every group together.
	Total Figures `json:"total"`
	// Groups are per service and severity, services by name and
	// severities most severe first.
	Groups []Figures `json:"groups"`
	// Weeks are per week (starting Monday, UTC), oldest first, for charts.
	Weeks []Week `json:"weeks"`
}

// Figures are the figures of a set of records.
type Figures struct {
	Service  string `json:"service,omitempty"`
	Severity string `json:"severity,omitempty"`
	// Incidents counts the records of kind incident, including announced
	// changes that paged.
	Incidents         int   `json:"incidents"`
	TimeToAcknowledge Stat  `json:"time_to_acknowledge"`
	TimeToResolve     Stat  `json:"time_to_resolve"`
	Pages             Pages `json:"pages"`
	// WithRecentChange counts incidents with a deploy, merge or release
	// of their service in the lookback window before they opened;
	// ChangeShare is its share of Incidents.
	WithRecentChange int       `json:"with_recent_change"`
	ChangeShare      float64   `json:"change_share"`
	Reviews          Reviews   `json:"reviews"`
	FollowUps        FollowUps `json:"follow_ups"`
	Awareness        Awareness `json:"awareness"`
	Learning         Learning  `json:"learning"`

	// What the figures above are computed from, once every record is in.
	ttas, ttrs, openAges, closeTimes []time.Duration
}

// Stat summarises durations: how many, their median and 90th percentile
// (nearest rank: the smallest value at least that share of them reach).
type Stat struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

// Pages counts the pages of the incidents.
type Pages struct {
	Total       int     `json:"total"`
	PerIncident float64 `json:"per_incident"`
	Most        int     `json:"most"`
}

// Reviews counts review docs: opened, closed, and closed by their due
// date.
type Reviews struct {
	Opened       int `json:"opened"`
	Closed       int `json:"closed"`
	ClosedOnTime int `json:"closed_on_time"`
}

// FollowUps counts the incidents' follow-ups: open ones with their age
// now, closed ones (done or won't do) with how long they took.
type FollowUps struct {
	Open              int     `json:"open"`
	Closed            int     `json:"closed"`
	OpenAgeMedianDays float64 `json:"open_age_median_days"`
	OldestOpenDays    float64 `json:"oldest_open_days"`
	ClosedInMedian    float64 `json:"closed_in_median_days"`
}

// Awareness counts announced risky changes (awareness records), and how
// many of them a page followed: those became incidents.
type Awareness struct {
	Announced int `json:"announced"`
	Paged     int `json:"paged"`
}

// Learning counts closed reviews by what people wrote in them.
type Learning struct {
	ClosedReviews int `json:"closed_reviews"`
	// WhoKnew and Surprised filled "who knew what, when, and how did they
	// know it?" and "how did our systems surprise us?"; Both filled both.
	WhoKnew   int `json:"who_knew"`
	Surprised int `json:"surprised"`
	Both      int `json:"both"`
}

// Week is one week of incidents.
type Week struct {
	Start time.Time `json:"start"`
	// BySeverity counts the week's incidents per severity.
	BySeverity map[string]int `json:"by_severity"`
	// TimeToResolve is the week's median time to resolve.
	TimeToResolve Stat `json:"time_to_resolve"`
	ttrs          []time.Duration
}

// Compute makes the report of recs, which must carry their timelines,
// changes and follow-ups (store.Incident). Records outside the options,
// and drills, are left out.
func Compute(recs []incident.Record, o Options) Report {
	rep := Report{Since: o.Since.UTC(), Until: o.Until.UTC(), Service: o.Service}
	groups := map[[2]string]*Figures{}
	weeks := map[time.Time]*Week{}
	for i := range recs {
		r := &recs[i]
		if r.Kind == incident.KindDrill || r.OpenedAt.Before(o.Since) || !r.OpenedAt.Before(o.Until) ||
			o.Service != "" && r.Service != o.Service {
			continue
		}
		k := [2]string{r.Service, r.Severity}
		g := groups[k]
		if g == nil {
			g = &Figures{Service: r.Service, Severity: r.Severity}
			groups[k] = g
		}
		for _, f := range []*Figures{g, &rep.Total} {
			f.add(r, o.Now)
		}
		if r.Kind == incident.KindIncident {
			start := weekStart(r.OpenedAt)
			w := weeks[start]
			if w == nil {
				w = &Week{Start: start, BySeverity: map[string]int{}}
				weeks[start] = w
			}
			w.BySeverity[r.Severity]++
			if !r.ResolvedAt.IsZero() {
				w.ttrs = append(w.ttrs, r.ResolvedAt.Sub(r.OpenedAt))
			}
		}
	}
	rep.Total.finish()
	for _, g := range groups {
		g.finish()
		rep.Groups = append(rep.Groups, *g)
	}
	rank := func(sev string) int {
		if i := slices.Index(o.Severities, sev); i >= 0 {
			return i
		}
		return len(o.Severities)
	}
	slices.SortFunc(rep.Groups, func(a, b Figures) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(rank(a.Severity), rank(b.Severity)), cmp.Compare(a.Severity, b.Severity))
	})
	// Every week of the period, empty ones too: a chart's gaps are news.
	for start := weekStart(o.Since); start.Before(o.Until); start = start.AddDate(0, 0, 7) {
		w := weeks[start]
		if w == nil {
			w = &Week{Start: start, BySeverity: map[string]int{}}
		}
		w.TimeToResolve = stat(w.ttrs)
		rep.Weeks = append(rep.Weeks, *w)
	}
	if rep.Groups == nil {
		rep.Groups = []Figures{}
	}
	return rep
}

// add counts one record.
func (f *Figures) add(r *incident.Record, now time.Time) {
	announced := r.Kind == incident.KindAwareness || hasEntry(r, incident.EntryKindChanged)
	if announced {
		f.Awareness.Announced++
		if r.Kind == incident.KindIncident {
			f.Awareness.Paged++
		}
	}
	if r.Kind != incident.KindIncident {
		return
	}
	f.Incidents++
	if !r.AcknowledgedAt.IsZero() {
		f.ttas = append(f.ttas, r.AcknowledgedAt.Sub(r.OpenedAt))
	}
	if !r.ResolvedAt.IsZero() {
		f.ttrs = append(f.ttrs, r.ResolvedAt.Sub(r.OpenedAt))
	}
	f.Pages.Total += len(r.Pages)
	f.Pages.Most = max(f.Pages.Most, len(r.Pages))
	if slices.ContainsFunc(r.Changes, func(c incident.Change) bool { return !c.At.After(r.OpenedAt) }) {
		f.WithRecentChange++
	}
	if r.ReviewDocNumber > 0 {
		f.Reviews.Opened++
	}
	if closed, ok := firstEntry(r, incident.EntryReviewClosed); ok && r.ReviewDocNumber > 0 {
		f.Reviews.Closed++
		if !r.ReviewDue.IsZero() && !closed.After(r.ReviewDue) {
			f.Reviews.ClosedOnTime++
		}
		f.Learning.ClosedReviews++
		who, surprised := slices.Contains(r.Learned, "who_knew"), slices.Contains(r.Learned, "surprised")
		f.Learning.WhoKnew += b2i(who)
		f.Learning.Surprised += b2i(surprised)
		f.Learning.Both += b2i(who && surprised)
	}
	for _, fu := range r.FollowUps {
		if fu.Status.Finished() {
			f.FollowUps.Closed++
			if !fu.StatusAt.IsZero() && !fu.RequestedAt.IsZero() {
				f.closeTimes = append(f.closeTimes, fu.StatusAt.Sub(fu.RequestedAt))
			}
			continue
		}
		f.FollowUps.Open++
		if !fu.RequestedAt.IsZero() {
			f.openAges = append(f.openAges, now.Sub(fu.RequestedAt))
		}
	}
}

// finish computes what depends on all the records.
func (f *Figures) finish() {
	f.TimeToAcknowledge, f.TimeToResolve = stat(f.ttas), stat(f.ttrs)
	if f.Incidents > 0 {
		f.Pages.PerIncident = round2(float64(f.Pages.Total) / float64(f.Incidents))
		f.ChangeShare = round2(float64(f.WithRecentChange) / float64(f.Incidents))
	}
	ages := stat(f.openAges)
	f.FollowUps.OpenAgeMedianDays = days(ages.MedianSeconds)
	if len(f.openAges) > 0 {
		f.FollowUps.OldestOpenDays = days(slices.Max(f.openAges).Seconds())
	}
	f.FollowUps.ClosedInMedian = days(stat(f.closeTimes).MedianSeconds)
}

// stat is the count, median and 90th percentile of ds, by nearest rank.
func stat(ds []time.Duration) Stat {
	if len(ds) == 0 {
		return Stat{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(i, 0)].Seconds()
	}
	return Stat{Count: len(s), MedianSeconds: at(0.5), P90Seconds: at(0.9)}
}

func hasEntry(r *incident.Record, kind string) bool {
	_, ok := firstEntry(r, kind)
	return ok
}

// firstEntry is when the record's first entry of kind happened.
func firstEntry(r *incident.Record, kind string) (time.Time, bool) {
	var (
		first time.Time
		found bool
	)
	for _, e := range r.Timeline {
		if e.Kind == kind && (!found || e.At.Before(first)) {
			first, found = e.At, true
		}
	}
	return first, found
}

// weekStart is the Monday 00:00 UTC of t's week.
func weekStart(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
}

func days(seconds float64) float64 { return round2(seconds / 86400) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Reader reads records from the store.
type Reader interface {
	Incidents(ctx context.Context, f store.IncidentFilter) ([]incident.Record, error)
	Incident(ctx context.Context, id int64) (incident.Record, error)
}

// MaxRecords bounds what one report reads: a decade of a busy team's
// incidents. A longer period is refused rather than read for minutes.
const MaxRecords = 20000

// Load reads the records a report of o needs, each with its timeline,
// changes and follow-ups, and computes it.
func Load(ctx context.Context, r Reader, o Options) (Report, error) {
	recs, err := Records(ctx, r, store.IncidentFilter{Service: o.Service, OpenedSince: o.Since}, o.Until, MaxRecords,
		func(rec *incident.Record) bool { return rec.Kind == incident.KindDrill })
	if err != nil {
		return Report{}, err
	}
	return Compute(recs, o), nil
}

// Records reads the records f names that opened before until, newest
// first, each with its timeline, changes and follow-ups. skip leaves a
// record out before it is read in full; more than limit records (when
// limit is above zero) is an error rather than minutes of reading.
func Records(ctx context.Context, r Reader, f store.IncidentFilter, until time.Time, limit int,
	skip func(*incident.Record) bool) ([]incident.Record, error) {
	const page = 500
	var full []incident.Record
	f.Limit, f.Before = page, 0
	for {
		recs, err := r.Incidents(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			if !recs[i].OpenedAt.Before(until) || skip != nil && skip(&recs[i]) {
				continue
			}
			if limit > 0 && len(full) == limit {
				return nil, fmt.Errorf("more than %d records opened since %s: ask for a shorter period", limit, f.OpenedSince.Format(time.DateOnly))
			}
			rec, err := r.Incident(ctx, recs[i].ID)
			if err != nil {
				return nil, err
			}
			full = append(full, rec)
		}
		if len(recs) < page {
			return full, nil
		}
		f.Before = recs[len(recs)-1].ID
	}
}
