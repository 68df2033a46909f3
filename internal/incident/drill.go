package incident

import (
	"strings"
	"time"
)

// Drill is a training incident someone asked for (`incidenthub drill`).
type Drill struct {
	// Key is random, made by the CLI: it names the drill's record and its
	// pages' de-duplication key, so that only the drill's own pages join it.
	Key      string `json:"key"`
	Service  string `json:"service"`
	Title    string `json:"title"`
	Severity string `json:"severity,omitempty"`
	// Page: page the on-call for real through PagerDuty's Events API
	// (pagerduty.drill_routing_key); without it the drill stays in the hub.
	Page bool `json:"page,omitempty"`
	// Steps are a scenario's deploys and notes, replayed at their
	// spacing (already scaled by the drill's speed).
	Steps []DrillStep `json:"steps,omitempty"`
}

// DrillStep is one thing that happens during a drill's scenario.
type DrillStep struct {
	// After is how long after the drill starts.
	After time.Duration `json:"after"`
	// Kind is deploy or note.
	Kind    string `json:"kind"`
	Summary string `json:"summary"`
}

// Drill step kinds.
const (
	StepDeploy = "deploy"
	StepNote   = "note"
)

// Scenario bounds: a drill is an hour or two of practice, not a replay
// of a week; the steps are stored with the drill's request.
const (
	MaxDrillSteps   = 100
	MaxStepSummary  = 500
	MaxDrillStepLag = 24 * time.Hour
)

// MaxDrillTitle bounds a drill's title: it becomes the page's summary,
// which the Events API takes up to 1,024 characters.
const MaxDrillTitle = 200

// DrillTitle marks a drill's title as one, so that no output shows a
// drill as a real incident.
func DrillTitle(title string) string { return "[DRILL] " + strings.TrimPrefix(title, "[DRILL] ") }

// drillKeyPrefix starts every drill page's de-duplication key.
const drillKeyPrefix = "incidenthub-drill:"

// DrillDedupKey is the Events API dedup_key of the drill record rec's
// page: PagerDuty gives it to the incident it opens as incident_key, and
// the webhooks that follow carry it back.
func DrillDedupKey(rec *Record) string { return drillKeyPrefix + rec.Ref() + ":" + rec.Drill }

// ParseDrillDedupKey reads the record and drill key of a drill page's
// incident_key; ok is false for every other key.
func ParseDrillDedupKey(key string) (id int64, drill string, ok bool) {
	rest, found := strings.CutPrefix(key, drillKeyPrefix)
	if !found {
		return 0, "", false
	}
	ref, drill, found := strings.Cut(rest, ":")
	id, err := ParseRef(ref)
	if !found || err != nil || drill == "" || !strings.HasPrefix(ref, "INC-") {
		return 0, "", false
	}
	return id, drill, true
}
