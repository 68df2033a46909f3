package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/incidenthub/incidenthub/internal/export"
	"github.com/incidenthub/incidenthub/internal/incident"
)

// scenario is a drill's script, as people write it or `drill --from`
// writes it from a past incident.
type scenario struct {
	Title    string         `yaml:"title"`
	Service  string         `yaml:"service,omitempty"`
	Severity string         `yaml:"severity,omitempty"`
	From     string         `yaml:"from,omitempty"`
	Steps    []scenarioStep `yaml:"steps"`
}

type scenarioStep struct {
	After   time.Duration `yaml:"after"`
	Kind    string        `yaml:"kind"`
	Summary string        `yaml:"summary"`
}

// maxScenarioBytes bounds a scenario file.
const maxScenarioBytes = 256 << 10

// loadScenario reads a scenario into dr; flags already set win over the
// file's title, service and severity.
func loadScenario(path string, speed float64, dr *incident.Drill) error {
	if speed <= 0 || speed > 1000 {
		return fmt.Errorf("--speed %g: want more than 0, at most 1000", speed)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--scenario: %w", err)
	}
	if len(raw) > maxScenarioBytes {
		return fmt.Errorf("--scenario %s: %d bytes, at most %d", path, len(raw), maxScenarioBytes)
	}
	var sc scenario
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		return fmt.Errorf("--scenario %s: %w", path, err)
	}
	if len(sc.Steps) > incident.MaxDrillSteps {
		return fmt.Errorf("--scenario %s: %d steps, at most %d", path, len(sc.Steps), incident.MaxDrillSteps)
	}
	var errs []error
	for i, st := range sc.Steps {
		switch {
		case st.Kind != incident.StepDeploy && st.Kind != incident.StepNote:
			errs = append(errs, fmt.Errorf("steps[%d].kind: want deploy or note, got %q", i, st.Kind))
		case st.Summary == "" || utf8.RuneCountInString(st.Summary) > incident.MaxStepSummary:
			errs = append(errs, fmt.Errorf("steps[%d].summary: want 1 to %d characters", i, incident.MaxStepSummary))
		case st.After < 0 || time.Duration(float64(st.After)/speed) > incident.MaxDrillStepLag:
			errs = append(errs, fmt.Errorf("steps[%d].after: want 0 to %s once divided by --speed", i, incident.MaxDrillStepLag))
		}
		dr.Steps = append(dr.Steps, incident.DrillStep{After: time.Duration(float64(st.After) / speed).Round(time.Second),
			Kind: st.Kind, Summary: st.Summary})
	}
	if len(errs) > 0 {
		return fmt.Errorf("--scenario %s: %w", path, errors.Join(errs...))
	}
	if dr.Title == "" {
		dr.Title = sc.Title
	}
	if dr.Service == "" {
		dr.Service = sc.Service
	}
	if dr.Severity == "" {
		dr.Severity = sc.Severity
	}
	return nil
}

// writeScenario prints the scenario of a closed incident: its deploys and
// notes at their spacing, from the first of them or the page, whichever
// came first; people pseudonymised in the order the incident names them.
func writeScenario(cmd *cobra.Command, g *globals, ref string) error {
	s, rec, err := g.openRecord(cmd.Context(), ref)
	if err != nil {
		return err
	}
	defer s.Close()
	if rec.Kind == incident.KindDrill || rec.Status != incident.StatusClosed {
		return fmt.Errorf("%s is a %s %s: a scenario is written from a closed incident", rec.Ref(), rec.Status, rec.Kind)
	}
	cfg, err := g.storeConfig()
	if err != nil {
		return err
	}
	red := export.NewRedactor([]incident.Record{rec}, cfg.People)
	var entries []incident.TimelineEntry
	for _, e := range rec.Timeline {
		if slices.Contains([]string{incident.EntryChange, incident.EntryNote, incident.EntryStatusUpdate}, e.Kind) {
			entries = append(entries, e)
		}
	}
	start := rec.OpenedAt
	for _, e := range entries {
		if e.At.Before(start) {
			start = e.At
		}
	}
	sc := scenario{Title: red.Text(rec.Title), Service: rec.Service, Severity: rec.Severity, From: rec.Ref(), Steps: []scenarioStep{}}
	left := 0
	for _, e := range entries {
		if len(sc.Steps) == incident.MaxDrillSteps || e.At.Sub(start) > incident.MaxDrillStepLag {
			left++
			continue
		}
		kind := incident.StepNote
		if e.Kind == incident.EntryChange {
			kind = incident.StepDeploy
		}
		summary := red.Text(e.Summary)
		if utf8.RuneCountInString(summary) > incident.MaxStepSummary {
			summary = string([]rune(summary)[:incident.MaxStepSummary-1]) + "…"
		}
		sc.Steps = append(sc.Steps, scenarioStep{After: e.At.Sub(start).Round(time.Second), Kind: kind, Summary: summary})
	}
	out := cmd.OutOrStdout()
	fprintf(out, "# The scenario of %s, for `incidenthub drill --scenario`: its deploys and notes, people pseudonymised.\n", rec.Ref())
	if left > 0 {
		fprintf(out, "# %d more steps are left out: a scenario has at most %d, within %s of its start.\n",
			left, incident.MaxDrillSteps, incident.MaxDrillStepLag)
	}
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(sc); err != nil {
		return err
	}
	return enc.Close()
}
