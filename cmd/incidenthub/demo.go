package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/connectortest"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// demoData are the vendors' published payloads the demo's story is told
// with (copies of testdata, whose README says where each came from).
//
//go:embed demodata/*.json
var demoData embed.FS

func newDemoCommand() *cobra.Command {
	var (
		speed float64
		keep  string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Replay a whole incident offline: the hub, local PagerDuty, GitHub and Jira doubles, no credentials",
		Long: `Start the hub in this process on a temporary SQLite store, with local doubles
of PagerDuty, GitHub and Jira (the ones the tests use), and replay one
incident told by real-format payloads: a deploy, a page storm, an
acknowledgement, a note, a fix deploy, the resolve, the review doc after a
short decompression, a /followup comment, its Jira ticket done, the review
closed. Each step is printed as it happens; then the record, the review doc
and every call the hub made to each tool. Nothing leaves this machine, and
nothing is left behind unless --keep names a directory.`,
		Example: `  incidenthub demo
  incidenthub demo --speed 4                # four times faster
  incidenthub demo --keep /tmp/hub-demo     # then: incidenthub incidents show INC-1 --config /tmp/hub-demo/incidenthub.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if speed <= 0 {
				return fmt.Errorf("--speed: want a positive factor such as 2, got %g", speed)
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), speed, keep)
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 1, "how much faster than the default pace (the decompression time too)")
	cmd.Flags().StringVar(&keep, "keep", "", "keep the store, configuration and log in this new or empty directory")
	return cmd
}

// demoDoubles are the vendors, as the tests' doubles play them.
type demoDoubles struct {
	pd     *pagerdutytest.Fake
	events *pagerdutytest.Events
	gh     *githubtest.Fake
	jira   *jiratest.Fake
}

// demoRun is one run of the demo: the hub in this process, its doubles,
// and where it writes.
type demoRun struct {
	out     io.Writer
	speed   float64
	cfg     *config.Config
	path    string
	base    string
	store   *store.Store
	doubles demoDoubles
	step    int
	steps   int
	start   time.Time
}

func runDemo(ctx context.Context, out io.Writer, speed float64, keep string) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C ends the story early, and still removes what it made.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := demoDir(keep)
	if err != nil {
		return err
	}
	t := &demoT{}
	defer func() {
		t.cleanup()
		if keep == "" {
			err = errors.Join(err, os.RemoveAll(dir))
		}
	}()
	d := &demoRun{out: out, speed: speed, start: time.Now(), steps: 10}
	d.doubles = demoDoubles{
		pd: pagerdutytest.New(t, connectortest.Unchecked()), events: pagerdutytest.NewEvents(t),
		gh: githubtest.New(t, connectortest.Unchecked()), jira: jiratest.New(t, connectortest.Unchecked()),
	}
	d.doubles.jira.Email, d.doubles.jira.APIToken = "bot@example.com", "demo-jira-token"
	if d.path, d.cfg, err = demoConfig(dir, speed, d.doubles); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "hub.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	var srv *httpserver.Server
	app := fx.New(appOptions(d.cfg, slog.New(slog.NewTextHandler(logFile, nil))), fx.Populate(&srv, &d.store))
	if err := app.Start(ctx); err != nil {
		return fmt.Errorf("start the hub: %w (its log: %s)", err, logFile.Name())
	}
	defer func() { err = errors.Join(err, app.Stop(context.WithoutCancel(ctx))) }()
	d.base = "http://" + srv.Addr().String()
	if keep == "" {
		fprintf(out, "The hub runs in this process on %s, with a store in %s (removed at the end; --keep DIR keeps it).\n", d.base, dir)
	} else {
		fprintf(out, "The hub runs in this process on %s; its store, configuration and log stay in %s.\n", d.base, dir)
	}
	fprintf(out, "PagerDuty, GitHub and Jira are local doubles: nothing leaves this machine.\n\n")
	if err := d.story(ctx); err != nil {
		return fmt.Errorf("%w (the hub's log: %s)", err, logFile.Name())
	}
	return d.report(ctx)
}

// demoDir is where the demo writes: a new temporary directory, or keep,
// which must be new or empty so that nothing of the user's is touched.
func demoDir(keep string) (string, error) {
	if keep == "" {
		return os.MkdirTemp("", "incidenthub-demo-")
	}
	entries, err := os.ReadDir(keep)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return keep, os.MkdirAll(keep, 0o700)
	case err != nil:
		return "", err
	case len(entries) > 0:
		return "", fmt.Errorf("--keep %s: want a new or empty directory", keep)
	}
	return keep, nil
}

// demoConfig writes the demo's configuration, as a user would write one,
// and loads it through the same checks.
func demoConfig(dir string, speed float64, d demoDoubles) (string, *config.Config, error) {
	decompression := time.Duration(float64(8*time.Second) / speed).Round(time.Millisecond)
	text := fmt.Sprintf(`# Written by incidenthub demo: the hub on this directory's store, and the
# vendors' local doubles (gone with the demo; read-only commands still work).
listen: "127.0.0.1:0"
storage: {driver: sqlite, dsn: "file:%s", synchronous: full}
pagerduty:
  webhook_secrets: [%q]
  api_token: demo-pagerduty-token
  from_email: oncall@example.com
  base_url: %q
  events_url: %q
github:
  webhook_secrets: [%q]
  token: demo-github-token
  base_url: %q
  review_repo: acme/incidents
jira:
  webhook_secrets: [%q]
  base_url: %q
  email: bot@example.com
  api_token: demo-jira-token
  search_lag: 1s
severities:
  - {name: SEV1, description: "Customer-facing outage or data loss for many customers.", pagerduty_priorities: [P1], review: required}
  - {name: SEV2, description: "Major degradation, or an outage for some customers.", pagerduty_priorities: [P2], urgency: high, review: required}
  - {name: SEV3, description: "Minor degradation with a workaround.", pagerduty_priorities: [P3], urgency: low, review: optional}
services:
  - name: payments
    pagerduty_service_ids: [PA2P440]
    github_repos: [acme/payments]
    jira_project: PAY
    playbook: "https://wiki.example.com/playbooks/payments"
    pagerduty_routing_key: DEMO0R0UT1NGKEY0PAYMENTS00000001
review: {open_after: %s, due_within: 48h}
`, filepath.Join(dir, "hub.db"), rand.Text(), d.pd.URL, d.events.URL, rand.Text(), d.gh.URL, rand.Text(), d.jira.URL, decompression)
	path := filepath.Join(dir, "incidenthub.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", nil, err
	}
	cfg, err := config.LoadFile(path)
	return path, cfg, err
}

// The story's pages: one storm on payments.
var demoPages = []struct {
	id     string
	number int
	title  string
}{
	{"PDEMO0001", 101, "Checkout API: 5xx above 2%"},
	{"PDEMO0002", 102, "payments-db: connection pool saturated"},
	{"PDEMO0003", 103, "Checkout latency p99 above 2s"},
}

// story replays the incident, one step at a time, each waiting until the
// hub has done what the step should make it do.
func (d *demoRun) story(ctx context.Context) error {
	now := time.Now().UTC().Truncate(time.Second)
	stamp := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	gh, jira, pd := d.doubles.gh, d.doubles.jira, d.doubles.pd
	record := func() (incident.Record, bool) {
		rec, err := d.store.Incident(ctx, 1)
		return rec, err == nil
	}

	if err := d.do(ctx, "GitHub: deploy #41 of acme/payments to production succeeds (14 minutes ago)",
		func() error { return d.deploy(41, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", stamp(14*time.Minute)) },
		func() (string, bool) {
			return "kept in the change log, and sent to PagerDuty's recent changes", len(d.doubles.events.Sent()) == 1
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "PagerDuty: three pages on payments within a minute (a storm)",
		func() error {
			for i, p := range demoPages {
				body, err := demoPayload("pagerduty.incident.triggered.json", map[string]any{
					"event.id": "demo-trigger-" + p.id, "event.occurred_at": stamp(4*time.Minute - time.Duration(i)*20*time.Second),
					"event.data.id": p.id, "event.data.number": p.number, "event.data.title": p.title,
					"event.data.html_url": "https://acme.pagerduty.com/incidents/" + p.id,
				})
				if err != nil {
					return err
				}
				if err := d.send("pagerduty", "", body); err != nil {
					return err
				}
			}
			return nil
		},
		func() (string, bool) {
			rec, ok := record()
			notes := 0
			for _, p := range demoPages {
				notes += len(pd.Notes(p.id))
			}
			return fmt.Sprintf("one record, %s (%s), and a triage note on each page naming the deploy 10m before it", rec.Ref(), rec.Severity),
				ok && len(rec.Pages) == len(demoPages) && notes == len(demoPages)
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "PagerDuty: PIG 208 acknowledges the three pages",
		func() error {
			for i, p := range demoPages {
				if err := d.pagerDuty("pagerduty.incident.acknowledged.json", p.id, p.number, stamp(3*time.Minute-time.Duration(i)*5*time.Second),
					map[string]any{"event.id": "demo-ack-" + p.id}); err != nil {
					return err
				}
			}
			return nil
		},
		func() (string, bool) {
			rec, ok := record()
			return "acknowledged; the first to acknowledge leads: " + rec.Commander, ok && rec.Status == incident.StatusAcknowledged
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "PagerDuty: a note on the page",
		func() error {
			body, err := demoPayload("pagerduty.incident.annotated.json", map[string]any{
				"event.id": "demo-note", "event.occurred_at": stamp(150 * time.Second),
				"event.data.incident.id": demoPages[0].id, "event.data.incident.html_url": "https://acme.pagerduty.com/incidents/" + demoPages[0].id,
				"event.data.content": "Pool saturated since the 41 deploy; rolling forward with the fix.",
			})
			if err != nil {
				return err
			}
			return d.send("pagerduty", "", body)
		},
		func() (string, bool) { return "on the timeline, as written", d.timelineHas(ctx, incident.EntryNote) }); err != nil {
		return err
	}
	if err := d.do(ctx, "GitHub: fix deploy #42 succeeds while the incident is open",
		func() error { return d.deploy(42, "3c1e2f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e", stamp(time.Minute)) },
		func() (string, bool) {
			return "a short note on each page, and PagerDuty's recent changes", len(pd.Notes(demoPages[0].id)) == 2 && len(d.doubles.events.Sent()) == 2
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "PagerDuty: the three pages resolve",
		func() error {
			for i, p := range demoPages {
				if err := d.pagerDuty("pagerduty.incident.resolved.json", p.id, p.number, stamp(-time.Duration(i)*time.Second), map[string]any{
					"event.id": "demo-resolve-" + p.id,
				}); err != nil {
					return err
				}
			}
			return nil
		},
		func() (string, bool) {
			rec, ok := record()
			return fmt.Sprintf("resolved after %s; the review doc opens after the decompression time (%s here)",
				incident.ShortDuration(rec.ResolvedAt.Sub(rec.OpenedAt)), d.cfg.Review.OpenAfter), ok && rec.Status == incident.StatusResolved
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "The hub: the review doc opens on GitHub, its timeline already written",
		func() error { return nil },
		func() (string, bool) {
			issues := gh.Issues()
			if len(issues) == 0 || !strings.Contains(issues[1].Body, "Review doc opened") {
				return "", false
			}
			return fmt.Sprintf("acme/incidents#1, %q, a summary comment, and a note on each page", issues[1].Title),
				len(gh.Comments(1)) >= 1
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "GitHub: someone comments /followup on the review issue",
		func() error {
			body, err := demoPayload("github.issue_comment.created.json", reviewIssue(map[string]any{
				"comment.id": 501, "comment.body": "Good review.\n/followup Alert on connection pool saturation priority:High",
				"comment.created_at": time.Now().UTC().Format(time.RFC3339), "comment.updated_at": time.Now().UTC().Format(time.RFC3339),
			}))
			if err != nil {
				return err
			}
			return d.send("github", "issue_comment", body)
		},
		func() (string, bool) {
			tickets := jira.Issues()
			if len(tickets) != 1 || !strings.Contains(gh.Issues()[1].Body, "- [ ] ["+tickets[0].Key+"]") {
				return "", false
			}
			return fmt.Sprintf("exactly one Jira ticket, %s, listed in the review doc and confirmed by a reply", tickets[0].Key), true
		}); err != nil {
		return err
	}
	if err := d.do(ctx, "Jira: the ticket moves to Done",
		func() error {
			ticket := jira.Issues()[0]
			body, err := demoPayload("jira.jira_issue_updated.status-change.json", map[string]any{
				"timestamp": time.Now().UnixMilli(), "issue.id": ticket.ID, "issue.key": ticket.Key,
				"issue.fields.labels": ticket.Labels, "issue.fields.summary": ticket.Summary, "issue.fields.status.name": "Done",
				"issue.fields.status.statusCategory.key": "done", "issue.fields.resolution": map[string]any{"name": "Done"},
			})
			if err != nil {
				return err
			}
			return d.send("jira", "", body)
		},
		func() (string, bool) {
			return "its box in the review doc is ticked", strings.Contains(gh.Issues()[1].Body, "- [x] [")
		}); err != nil {
		return err
	}
	return d.do(ctx, "GitHub: the review issue is closed",
		func() error {
			body, err := demoPayload("github.issues.opened.json", reviewIssue(map[string]any{
				"action": "closed", "issue.state": "closed", "issue.closed_at": time.Now().UTC().Format(time.RFC3339),
			}))
			if err != nil {
				return err
			}
			return d.send("github", "issues", body)
		},
		func() (string, bool) {
			rec, ok := record()
			return "the record is closed, with its follow-up", ok && rec.Status == incident.StatusClosed
		})
}

// do runs one step: it prints what happens, acts, and waits until the hub
// made what the step should make, then says what that was.
func (d *demoRun) do(ctx context.Context, what string, act func() error, done func() (string, bool)) error {
	d.step++
	fprintf(d.out, "[%2d/%d] %6.1fs  %s\n", d.step, d.steps, time.Since(d.start).Seconds(), what)
	if err := act(); err != nil {
		return fmt.Errorf("step %d: %w", d.step, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if result, ok := done(); ok {
			fprintf(d.out, "                 → %s\n", result)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("step %d (%s): the hub did not get there within a minute", d.step, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A pause, so that the story reads as it happens.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(float64(600*time.Millisecond) / d.speed)):
	}
	return nil
}

// send delivers a payload, signed as the vendor signs it.
func (d *demoRun) send(source, event string, body []byte) error {
	req, err := signedRequest(d.cfg, source, event, d.base, randomID(), body)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("the hub answered %s to a %s delivery", resp.Status, source)
	}
	return nil
}

func (d *demoRun) deploy(id int, sha, at string) error {
	body, err := demoPayload("github.deployment_status.created.json", map[string]any{
		"deployment.id": id, "deployment.sha": sha, "deployment.created_at": at, "deployment.updated_at": at,
		"deployment_status.created_at": at, "deployment_status.updated_at": at, "repository.full_name": "acme/payments",
	})
	if err != nil {
		return err
	}
	return d.send("github", "deployment_status", body)
}

// pagerDuty sends a page's event, the page's fields set on the capture.
func (d *demoRun) pagerDuty(file, page string, number int, at string, edits map[string]any) error {
	all := map[string]any{"event.id": "demo-" + file + "-" + page, "event.occurred_at": at, "event.data.id": page,
		"event.data.number": number, "event.data.html_url": "https://acme.pagerduty.com/incidents/" + page}
	for _, p := range demoPages {
		if p.id == page {
			all["event.data.title"] = p.title
		}
	}
	for k, v := range edits {
		all[k] = v
	}
	body, err := demoPayload(file, all)
	if err != nil {
		return err
	}
	return d.send("pagerduty", "", body)
}

func (d *demoRun) timelineHas(ctx context.Context, kind string) bool {
	rec, err := d.store.Incident(ctx, 1)
	return err == nil && slices.ContainsFunc(rec.Timeline, func(e incident.TimelineEntry) bool { return e.Kind == kind })
}

// report prints the record, the review doc and every call the hub made.
func (d *demoRun) report(ctx context.Context) error {
	rec, err := d.store.Incident(ctx, 1)
	if err != nil {
		return err
	}
	fprintf(d.out, "\nDone in %.1fs. The record, as `incidenthub incidents show INC-1` prints it:\n\n", time.Since(d.start).Seconds())
	printRecord(d.out, &rec)
	fprintf(d.out, "\nThe review doc on GitHub (acme/incidents#1), as markdown:\n\n%s\n", d.doubles.gh.Issues()[1].Body)
	fprintf(d.out, "\nThe calls the hub made:\n")
	calls := []struct {
		tool  string
		calls []string
	}{
		{"PagerDuty REST", d.doubles.pd.Requests()},
		{"PagerDuty Events API", slices.Repeat([]string{"POST /v2/change/enqueue"}, len(d.doubles.events.Sent()))},
		{"GitHub", d.doubles.gh.Requests()},
		{"Jira", d.doubles.jira.Requests()},
	}
	for _, c := range calls {
		fprintf(d.out, "  %s (%d)\n", c.tool, len(c.calls))
		for _, call := range c.calls {
			fprintf(d.out, "    %s\n", printable(call))
		}
	}
	return nil
}

// reviewIssue puts a GitHub issue payload on INC-1's review doc (the
// demo's, and the tests').
func reviewIssue(edits map[string]any) map[string]any {
	edits["repository.full_name"] = "acme/incidents"
	edits["issue.number"] = 1
	edits["issue.labels"] = []any{map[string]any{"name": "incident"}, map[string]any{"name": "incidenthub:INC-1"}}
	return edits
}

// demoPayload is one of the embedded payloads with edits applied.
func demoPayload(name string, edits map[string]any) ([]byte, error) {
	raw, err := demoData.ReadFile("demodata/" + name)
	if err != nil {
		return nil, err
	}
	return editJSON(raw, edits)
}

// editJSON sets values at dotted paths of a JSON document ("event.data.id").
func editJSON(raw []byte, edits map[string]any) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for path, v := range edits {
		m, keys := doc, strings.Split(path, ".")
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("edit %s: %s is not an object", path, k)
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}
	return json.Marshal(doc)
}

// demoT is what the doubles need of a test, for a run outside any: their
// servers close at the end, and what they would report fails the demo.
type demoT struct {
	mu       sync.Mutex
	cleanups []func()
}

func (*demoT) Helper() {}

func (*demoT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (*demoT) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}

func (t *demoT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *demoT) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}
