package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/jira"
	"github.com/incidenthub/incidenthub/connectors/jira/jiratest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/pipeline"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// chaosProxy stands between the hub and a vendor double: it refuses a
// share of requests with 502 before they reach the double, and for
// another share lets the double act and then drops the connection, so
// that the hub never learns its write was made (a timeout after commit).
type chaosProxy struct {
	target      *url.URL
	mu          sync.Mutex
	rand        *rand.Rand
	refused     atomic.Int64
	lostAnswers atomic.Int64
	URL         string
}

const (
	chaosRefuse = 0.15 // 502 before the double sees the request
	chaosLose   = 0.05 // the double acts; the answer is lost
)

func newChaosProxy(t *testing.T, target string, seed uint64) *chaosProxy {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &chaosProxy{target: u, rand: rand.New(rand.NewPCG(seed, seed+1))}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *chaosProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	x := p.rand.Float64()
	p.mu.Unlock()
	if x < chaosRefuse {
		p.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"message":"chaos: bad gateway"}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.String()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if x < chaosRefuse+chaosLose {
		p.lostAnswers.Add(1)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

// chaosDelivery is one webhook as a vendor sends it.
type chaosDelivery struct {
	source, event, id string
	body              []byte
	at                time.Time // when it happened, for the reference run
}

// The deliveries: page storms on payments (pages 20 s apart, within the
// merge window; each acknowledged a minute after it started and resolved
// 40 minutes in), deploys of acme/payments around them, and Jira comments
// on tickets the hub does not track; then duplicates of some of them.
const (
	chaosStorms        = 2
	chaosPagesPerStorm = 20
	chaosDeploys       = 1100
	chaosJiraNoise     = 280
	chaosDuplicates    = 500
	chaosKills         = 10
)

func chaosDeliveries(t *testing.T) []chaosDelivery {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 8))
	stamp := func(at time.Time) string { return at.Format(time.RFC3339) }
	var out []chaosDelivery
	responders := []string{"Ana Ortiz", "Bo Li", "Cy Park"}
	for k := range chaosStorms {
		stormStart := base.Add(time.Duration(k) * 4 * time.Hour)
		for i := range chaosPagesPerStorm {
			id := fmt.Sprintf("PCH%d%03d", k, i)
			start := stormStart.Add(time.Duration(i) * 20 * time.Second)
			page := map[string]any{"event.data.id": id, "event.data.number": 1000*(k+1) + i,
				"event.data.created_at": stamp(start), "event.data.title": fmt.Sprintf("Checkout latency, shard %d", i),
				"event.data.html_url": "https://pig208.pagerduty.com/incidents/" + id}
			for _, step := range []struct {
				file, kind string
				at         time.Time
			}{
				{"incident.triggered.json", "trigger", start},
				{"incident.acknowledged.json", "ack", start.Add(time.Minute)},
				{"incident.resolved.json", "resolve", stormStart.Add(40*time.Minute + time.Duration(i)*5*time.Second)},
			} {
				edits := map[string]any{"event.id": id + "-" + step.kind, "event.occurred_at": stamp(step.at)}
				for k, v := range page {
					edits[k] = v
				}
				if step.kind == "ack" {
					edits["event.agent.summary"] = responders[r.IntN(len(responders))]
				}
				out = append(out, chaosDelivery{source: "pagerduty", id: "pd-" + id + "-" + step.kind,
					body: payload(t, "pagerduty", step.file, edits), at: step.at})
			}
		}
	}
	for i := range chaosDeploys {
		// Deploys over three days around the storms: a few in their
		// lookback or while they are open, most far from any.
		at := base.Add(-36*time.Hour + time.Duration(r.Int64N(int64(72*time.Hour))))
		out = append(out, chaosDelivery{source: "github", event: "deployment_status", id: fmt.Sprintf("gh-deploy-%d", i),
			body: payload(t, "github", "deployment_status.created.json", map[string]any{
				"deployment.id": 5000 + i, "deployment_status.id": 9000 + i, "deployment.created_at": stamp(at),
				"deployment_status.created_at": stamp(at), "deployment_status.updated_at": stamp(at),
				"repository.full_name": "acme/payments",
			}), at: at})
	}
	for i := range chaosJiraNoise {
		// Comments on tickets the hub does not track: recorded as ignored.
		at := base.Add(time.Duration(i) * time.Minute)
		out = append(out, chaosDelivery{source: "jira", id: fmt.Sprintf("jira-noise-%d", i),
			body: payload(t, "jira", "comment_created.json", map[string]any{"timestamp": at.UnixMilli(), "comment.id": fmt.Sprint(20000 + i)}),
			at:   at})
	}
	return out
}

// hubRunner keeps one hub process running on a configuration, through
// kills and restarts.
type hubRunner struct {
	t      *testing.T
	path   string
	base   string
	mu     sync.Mutex
	hub    *hubProcess
	killed []*hubProcess
}

func (h *hubRunner) start() {
	cmd := exec.Command(os.Args[0], "serve", "--config", h.path)
	cmd.Env = append(os.Environ(), "INCIDENTHUB_TEST_AS_MAIN=1")
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		h.t.Errorf("start the hub: %v", err)
		return
	}
	p := &hubProcess{cmd: cmd, logs: logs}
	h.mu.Lock()
	h.hub = p
	h.mu.Unlock()
	h.t.Cleanup(p.kill)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(h.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Errorf("the hub did not become ready after a restart:\n%s", logs.String())
}

// killAndRestart ends the process at once, as a crash would, and starts
// another.
func (h *hubRunner) killAndRestart() {
	h.mu.Lock()
	p := h.hub
	h.killed = append(h.killed, p)
	h.mu.Unlock()
	p.kill()
	h.start()
}

func (h *hubRunner) logs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for i, p := range append(slices.Clone(h.killed), h.hub) {
		fmt.Fprintf(&b, "--- process %d\n%s", i, p.logs.String())
	}
	return b.String()
}

// chaosShape is what a record must be whatever the faults: its pages, the
// facts they make, and the vendors' events on its timeline (what the
// hub's jobs made, and the status changes it saw on the way, aside).
func chaosShape(t *testing.T, s *store.Store) (shapes []string, records []incident.Record) {
	t.Helper()
	ctx := context.Background()
	list, err := s.Incidents(ctx, store.IncidentFilter{Limit: 1000})
	require.NoError(t, err)
	for _, r := range list {
		rec, err := s.Incident(ctx, r.ID)
		require.NoError(t, err)
		records = append(records, rec)
		var pages, entries []string
		for _, p := range rec.Pages {
			pages = append(pages, p.ID)
		}
		for _, e := range rec.Timeline {
			if e.Source != string(incident.SourceHub) && e.Kind != incident.EntryStatusChanged && e.Kind != incident.EntrySeverityChanged {
				entries = append(entries, e.Key)
			}
		}
		slices.Sort(pages)
		slices.Sort(entries)
		status := rec.Status
		if status == incident.StatusReviewing {
			status = incident.StatusResolved // the review doc opened: the hub's own doing
		}
		shapes = append(shapes, fmt.Sprintf("pages %v\n  %q %s %s severity %s opened %s acked %s resolved %s commander %q responders %v\n  %d entries %v",
			pages, rec.Title, rec.Kind, status, rec.Severity, rec.OpenedAt.Format(time.DateTime), rec.AcknowledgedAt.Format(time.DateTime),
			rec.ResolvedAt.Format(time.DateTime), rec.Commander, slices.Sorted(slices.Values(rec.Responders)), len(entries), entries))
	}
	slices.Sort(shapes)
	return shapes, records
}

// noteMarkers counts a page's notes by the hidden marker that says which
// link each carries.
func noteMarkers(notes []string) map[string]int {
	out := map[string]int{}
	for _, n := range notes {
		out[noteMarker.FindString(n)]++
	}
	return out
}

var noteMarker = regexp.MustCompile(`\[incidenthub [^\]]+\]`)

// discardJobs accepts the jobs the reference run's decisions ask for.
type discardJobs struct{}

func (discardJobs) Enqueue(context.Context, *sql.Tx, int64, incident.Action) error { return nil }

// The hub under faults and crashes: 2,000 webhooks from three vendors,
// with duplicates and in any order, sent as vendors do (again until they
// get a 2xx) while the hub is killed with SIGKILL ten times, and every
// vendor it writes to refuses 15 % of requests and loses the answer to 5 %
// more after acting on them. Nothing acknowledged is lost, nothing is
// done twice, and the records are those of a calm run. On PostgreSQL two
// replicas take the webhooks, as behind a load balancer, and the kills
// fall on either.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of kills and faults")
	}
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	gh, jiraFake, pd := githubtest.New(t), jiratest.New(t), pagerdutytest.New(t)
	gh.Collaborators = []string{"Codertocat"}
	ghProxy, jiraProxy, pdProxy := newChaosProxy(t, gh.URL, 1), newChaosProxy(t, jiraFake.URL, 2), newChaosProxy(t, pd.URL, 3)

	path, _ := testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText := withPagerDutyNotes(string(text), pdProxy.URL)
	cfgText = strings.Replace(cfgText, "{name: payments, pagerduty_service_ids: [PA2P440]}",
		"{name: payments, pagerduty_service_ids: [PA2P440], github_repos: [acme/payments], jira_project: PAY}", 1)
	cfgText += fmt.Sprintf(`github: {webhook_secrets: [%q], token: "gh-token", base_url: %q, review_repo: acme/incidents}
jira: {webhook_secrets: [%q], base_url: %q, email: bot@example.com, api_token: jira-token, search_lag: 1s}
review: {open_after: 0s}
jobs: {timeout: 10s, rescue_after: 15s}
`, githubSecret, ghProxy.URL, jiraSecret, jiraProxy.URL)
	require.NoError(t, os.WriteFile(path, []byte(cfgText), 0o600))
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)

	deliveries := chaosDeliveries(t)
	r := rand.New(rand.NewPCG(9, 10))
	sends := slices.Clone(deliveries)
	for range chaosDuplicates {
		sends = append(sends, deliveries[r.IntN(len(deliveries))])
	}
	r.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })

	began := time.Now()
	runners := []*hubRunner{{t: t, path: path, base: base}}
	if e2eStore() == config.DriverPostgres {
		second := freeAddr(t)
		secondPath := path + ".2"
		require.NoError(t, os.WriteFile(secondPath, []byte(strings.Replace(cfgText, fmt.Sprintf("listen: %q", addr),
			fmt.Sprintf("listen: %q", second), 1)), 0o600))
		runners = append(runners, &hubRunner{t: t, path: secondPath, base: "http://" + second})
	}
	for _, h := range runners {
		h.start()
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, h := range runners {
				logs := h.logs()
				if len(logs) > 100_000 {
					logs = logs[len(logs)-100_000:]
				}
				t.Logf("replica %d:\n%s", i, logs)
			}
		}
	})

	// The killer: ten SIGKILLs at random moments, during intake and while
	// the jobs run.
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		kr := rand.New(rand.NewPCG(11, 12))
		for range chaosKills {
			time.Sleep(time.Duration(800+kr.IntN(2200)) * time.Millisecond)
			restarted := time.Now()
			runners[kr.IntN(len(runners))].killAndRestart()
			t.Logf("killed and ready again in %s", time.Since(restarted).Round(time.Millisecond))
		}
	}()

	// The senders: sixteen at once, each delivery again until a 2xx.
	var (
		acknowledged, duplicates, retries atomic.Int64
		picks                             atomic.Int64
		ackedIDs                          sync.Map
		wg                                sync.WaitGroup
		queue                             = make(chan chaosDelivery)
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range queue {
				for attempt := 0; ; attempt++ {
					if attempt > 2000 {
						t.Errorf("delivery %s never acknowledged", d.id)
						break
					}
					// A load balancer's choice, and the next replica when
					// one does not answer.
					target := runners[int(picks.Add(1))%len(runners)].base
					req, err := signedRequest(cfg, d.source, d.event, target, d.id, d.body)
					if err != nil {
						t.Errorf("sign %s: %v", d.id, err)
						break
					}
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						answer, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode/100 == 2 {
							acknowledged.Add(1)
							if bytes.Contains(answer, []byte(`"duplicate":true`)) {
								duplicates.Add(1)
							}
							ackedIDs.Store(d.source+"/"+d.id, true)
							break
						}
					}
					retries.Add(1)
					time.Sleep(25 * time.Millisecond)
				}
			}
		}()
	}
	// At most 100 a second, so that the kills fall during intake as well
	// as while the jobs run, whatever the store's speed.
	pace := time.NewTicker(10 * time.Millisecond)
	for _, d := range sends {
		<-pace.C
		queue <- d
	}
	pace.Stop()
	close(queue)
	wg.Wait()
	t.Logf("all acknowledged after %s", time.Since(began).Round(time.Millisecond))
	<-killerDone
	t.Logf("ten kills after %s", time.Since(began).Round(time.Millisecond))

	s := openTestStore(t, cfg)
	ctx := context.Background()

	// Every acknowledged delivery is stored, once (the store's unique key),
	// and processed.
	require.Eventually(t, func() bool {
		pending, err := s.Deliveries(ctx, store.DeliveryFilter{Status: delivery.StatusPending, Limit: 1})
		require.NoError(t, err)
		return len(pending) == 0
	}, 60*time.Second, 100*time.Millisecond, "every delivery processed")
	t.Logf("all processed after %s", time.Since(began).Round(time.Millisecond))
	kept, lost, processed := 0, 0, 0
	for _, d := range deliveries {
		got, err := s.Delivery(ctx, incident.Source(d.source), d.id)
		if err != nil {
			if _, acked := ackedIDs.Load(d.source + "/" + d.id); acked {
				lost++
			}
			continue
		}
		kept++
		switch got.Status {
		case delivery.StatusProcessed, delivery.StatusIgnored:
			processed++
		default:
			t.Errorf("delivery %s/%s is %s: %s", d.source, d.id, got.Status, got.Reason)
		}
	}

	// The records are those of a calm run: the same deliveries, in the
	// order they happened, decided without kills or faults. (Correlation
	// compares when things happened, so the order the hub took them in
	// does not matter.)
	calm := storetest.SQLite(t)
	byTime := slices.Clone(deliveries)
	slices.SortStableFunc(byTime, func(a, b chaosDelivery) int { return a.at.Compare(b.at) })
	for _, d := range byTime {
		_, err := calm.AppendDeliveries(ctx, []delivery.Delivery{{Source: incident.Source(d.source), ID: d.id, Event: d.event,
			ReceivedAt: time.Now(), Body: d.body}})
		require.NoError(t, err)
	}
	proc := pipeline.NewProcessor(calm, []pipeline.Normalizer{pagerduty.Normalizer{}, github.Normalizer{}, jira.Normalizer{}},
		pipeline.RulesFrom(cfg), slog.New(slog.DiscardHandler), metrics.New(), pipeline.WithActions(discardJobs{}))
	for {
		more, err := proc.ProcessNext(ctx)
		require.NoError(t, err)
		if !more {
			break
		}
	}
	want, _ := chaosShape(t, calm)
	require.Len(t, want, chaosStorms, "one record per storm in the calm run")

	// The jobs converge: one review issue per incident, a note on every
	// page linking it.
	var records []incident.Record
	require.Eventually(t, func() bool {
		_, records = chaosShape(t, s)
		if len(records) != chaosStorms || len(gh.Issues()) < chaosStorms {
			return false
		}
		for _, rec := range records {
			if rec.ReviewDocNumber == 0 || rec.SummaryFor.IsZero() {
				return false
			}
			for _, p := range rec.Pages {
				if len(pd.Notes(p.ID)) == 0 {
					return false
				}
			}
		}
		return true
	}, 90*time.Second, 250*time.Millisecond, "review docs, summaries and notes")
	t.Logf("jobs converged after %s; GitHub writes %d", time.Since(began).Round(time.Millisecond), len(gh.Writes()))
	got, records := chaosShape(t, s)
	require.Equal(t, want, got, "the records of a calm run")

	// Follow-ups: one /followup comment on each review issue, delivered
	// twice, makes one Jira ticket each.
	for i, rec := range records {
		body := payload(t, "github", "issue_comment.created.json", map[string]any{
			"repository.full_name": "acme/incidents", "issue.number": rec.ReviewDocNumber, "comment.id": 70000 + i,
			"comment.body": "/followup Alert on pool saturation for " + rec.Ref(),
			"issue.labels": []any{map[string]any{"name": "incident"}, map[string]any{"name": "incidenthub:" + rec.Ref()}},
		})
		for range 2 {
			req, err := signedRequest(cfg, "github", "issue_comment", base, fmt.Sprintf("gh-followup-%d", i), body)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 2, resp.StatusCode/100)
		}
	}
	require.Eventually(t, func() bool {
		for _, rec := range records {
			now, err := s.Incident(ctx, rec.ID)
			require.NoError(t, err)
			if len(now.FollowUps) != 1 || now.FollowUps[0].JiraKey == "" {
				return false
			}
		}
		return true
	}, 60*time.Second, 250*time.Millisecond, "a ticket for every follow-up")
	t.Logf("follow-ups filed after %s", time.Since(began).Round(time.Millisecond))
	// Each page gets one note of each kind: its triage note, then one per
	// link, the review doc's and the ticket's.
	require.Eventually(t, func() bool {
		for _, rec := range records {
			for _, p := range rec.Pages {
				if len(noteMarkers(pd.Notes(p.ID))) < 3 {
					return false
				}
			}
		}
		return true
	}, 60*time.Second, 250*time.Millisecond, "a triage note and a note for the ticket on every page")
	time.Sleep(2 * time.Second) // anything left to run runs

	// Exactly once on every vendor.
	doubled := 0
	reviews := map[string]int{}
	for _, issue := range gh.Issues() {
		reviews[strings.SplitN(issue.Title, ":", 2)[0]]++
	}
	for _, rec := range records {
		doubled += reviews[rec.Ref()] - 1
		for _, p := range rec.Pages {
			for _, n := range noteMarkers(pd.Notes(p.ID)) {
				doubled += n - 1
			}
		}
	}
	tickets := map[string]int{}
	for _, issue := range jiraFake.Issues() {
		tickets[strings.Join(issue.Labels, ",")]++
	}
	for _, n := range tickets {
		doubled += n - 1
	}
	require.Len(t, gh.Issues(), chaosStorms, "one review issue per incident")
	require.Len(t, jiraFake.Issues(), chaosStorms, "one ticket per follow-up")

	t.Logf("sent %d (%d unique), acknowledged %d (%d as duplicates, %d retries), stored %d, processed %d, lost %d, done twice %d, kills survived %d; vendors refused %d and lost %d answers",
		len(sends), len(deliveries), acknowledged.Load(), duplicates.Load(), retries.Load(), kept, processed, lost, doubled, chaosKills,
		ghProxy.refused.Load()+jiraProxy.refused.Load()+pdProxy.refused.Load(),
		ghProxy.lostAnswers.Load()+jiraProxy.lostAnswers.Load()+pdProxy.lostAnswers.Load())
	require.Zero(t, lost, "acknowledged and lost")
	require.Equal(t, len(deliveries), kept)
	require.Equal(t, len(deliveries), processed)
	require.Zero(t, doubled, "made twice on a vendor")
}
