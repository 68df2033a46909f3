package router

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/incidenthub/incidenthub/internal/incident"
)

// Drills, in one place:
//
//   - `incidenthub drill` asks for one (drill.started): a record of kind
//     drill opens, titled [DRILL], correlated by its own key so that no
//     real page joins it and it joins no storm;
//   - with a routing key it pages for real (drill_page): PagerDuty opens an
//     incident whose incident_key is the drill's dedup key, and that
//     page's webhooks join the drill (decidePage), whatever its service;
//   - `incidenthub drill end` ends it: a paged drill asks PagerDuty to
//     resolve its page, and resolves with it; a dry one resolves at once;
//   - resolved, it gets a debrief doc at once (ReviewActions), with drill
//     questions instead of the review's; reports and metrics leave it out.

// decideDrillStarted opens the drill's record.
func decideDrillStarted(ev incident.Event, r Rules) Decision {
	dr := ev.Drill
	if dr == nil || dr.Key == "" || dr.Service == "" {
		return Decision{Ignore: "a drill request without its key or service"}
	}
	severity := dr.Severity
	if _, ok := r.severityRules(severity); !ok && len(r.Severities) > 0 {
		severity = r.Severities[len(r.Severities)-1].Name
	}
	rec := incident.Record{
		Title:          incident.DrillTitle(dr.Title),
		Status:         incident.StatusOpen,
		Kind:           incident.KindDrill,
		Severity:       severity,
		Service:        dr.Service,
		CorrelationKey: "drill:" + dr.Key,
		OpenedAt:       ev.OccurredAt,
		Drill:          dr.Key,
		DrillPaged:     dr.Page,
	}
	if dr.Severity != "" {
		// Chosen for the drill: its page's priority does not move it.
		rec.SeveritySetBy = cmp.Or(ev.Actor, "the drill")
	}
	how := "a dry run: nobody is paged"
	var acts []incident.Action
	if dr.Page {
		how = "paging the on-call through PagerDuty"
		acts = append(acts, incident.Action{Kind: incident.ActionDrillPage, Target: "trigger"})
	}
	for i, st := range dr.Steps {
		acts = append(acts, incident.Action{Kind: incident.ActionDrillStep, RunAt: ev.OccurredAt.Add(st.After),
			Target: strconv.Itoa(i), Text: st.Summary, StepKind: st.Kind})
	}
	if len(dr.Steps) > 0 {
		how += fmt.Sprintf(", with a scenario of %d steps", len(dr.Steps))
	}
	return Decision{
		Record: &rec, Opened: true, Actions: acts,
		Entries: []incident.TimelineEntry{{At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryDrillStarted,
			Key: "drill.started", Summary: fmt.Sprintf("Drill started%s on %s, %s", by(ev.Actor), dr.Service, how)}},
	}
}

// decideDrillEnded ends a drill. A paged drill asks PagerDuty to resolve
// its page, even before the page's webhook came (the trigger may still be
// on its way, or held): the record resolves with its page, or at once
// when it has no open page yet. A dry drill resolves at once.
func decideDrillEnded(rec incident.Record, ev incident.Event, r Rules) Decision {
	if rec.Kind != incident.KindDrill {
		return Decision{Ignore: rec.Ref() + " is not a drill"}
	}
	if !rec.Status.Active() {
		return Decision{Ignore: rec.Ref() + " has ended already"}
	}
	entry := incident.TimelineEntry{At: ev.OccurredAt, Source: string(ev.Source), Kind: incident.EntryDrillEnded,
		Key: "drill.ended", Summary: "Drill ended" + by(ev.Actor)}
	var acts []incident.Action
	if rec.DrillPaged {
		entry.Summary += "; its page is resolved in PagerDuty"
		acts = append(acts, incident.Action{Kind: incident.ActionDrillPage, Target: "resolve"})
	}
	if slices.ContainsFunc(rec.Pages, func(p *incident.Page) bool { return p.Status != incident.PageResolved }) {
		return Decision{Record: &rec, Entries: []incident.TimelineEntry{entry}, Actions: acts}
	}
	before := rec // ReviewActions reads its status; only fields change below
	rec.Status, rec.ResolvedAt = incident.StatusResolved, ev.OccurredAt
	return Decision{Record: &rec, Entries: []incident.TimelineEntry{entry}, Actions: append(acts, r.ReviewActions(&before, &rec)...)}
}

// decideDrillStep puts a scenario's step on the drill's timeline, as it
// happens; a drill that ended has no more steps.
func decideDrillStep(rec incident.Record, ev incident.Event) Decision {
	if rec.Kind != incident.KindDrill {
		return Decision{Ignore: rec.Ref() + " is not a drill"}
	}
	if !rec.Status.Active() {
		return Decision{Ignore: rec.Ref() + " has ended: its scenario stops"}
	}
	kind, what := incident.EntryNote, "Scenario note"
	if step, _, _ := strings.Cut(ev.Target, ":"); step == incident.StepDeploy {
		kind, what = incident.EntryChange, "Scenario deploy"
	}
	return Decision{Record: &rec, Entries: []incident.TimelineEntry{{At: ev.OccurredAt, Source: string(ev.Source), Kind: kind,
		Key: "drill.step:" + ev.Target, Summary: what + ": " + ev.Text}}}
}

// drillPageRefused says why a page carrying a drill's dedup key may not
// join the record the state holds, or "" when it is that drill's page. A
// page with a drill's key never opens or joins a real incident.
func drillPageRefused(s State, ev incident.Event) string {
	id, key, ok := incident.ParseDrillDedupKey(ev.IncidentKey)
	if !ok {
		return ""
	}
	if o := s.Owner; o == nil || o.ID != id || o.Kind != incident.KindDrill || o.Drill != key {
		return fmt.Sprintf("PagerDuty incident %s carries the dedup key of a drill %s that this hub did not start",
			ev.PageID, incident.FormatRef(id))
	}
	return ""
}
