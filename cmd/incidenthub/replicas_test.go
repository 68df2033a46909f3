package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/github/githubtest"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/api"
)

// replicas is several hub processes on one PostgreSQL database, each on
// its own address, like replicas behind a load balancer.
type replicas struct {
	bases []string
	hubs  []*hubProcess
	cfg   *config.Config
}

// startReplicas starts n hubs sharing the configuration at path (its
// listen address aside).
func startReplicas(t *testing.T, path string, n int) *replicas {
	t.Helper()
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	r := &replicas{cfg: cfg}
	for i := range n {
		addr := freeAddr(t)
		p := fmt.Sprintf("%s.%d", path, i)
		require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(text), fmt.Sprintf("listen: %q", cfg.Listen),
			fmt.Sprintf("listen: %q", addr), 1)), 0o600))
		r.bases = append(r.bases, "http://"+addr)
		r.hubs = append(r.hubs, startHub(t, p, "http://"+addr))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, h := range r.hubs {
				t.Logf("replica %d:\n%s", i, h.logs.String())
			}
		}
	})
	return r
}

// leader waits for the replica that holds the processing lease, other
// than not, and returns its index.
func (r *replicas) leader(t *testing.T, not int) int {
	t.Helper()
	holder := -1
	require.Eventually(t, func() bool {
		for i, h := range r.hubs {
			if i != not && strings.Contains(h.logs.String(), "this replica holds the processing lease") {
				holder = i
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "a replica takes the processing lease")
	return holder
}

// onlyIncident reads the one incident the hub holds, whatever its number:
// on PostgreSQL a number taken by a transaction that did not commit (a
// replica killed mid-decision) is not given again. It reports false while
// there is not exactly one.
func onlyIncident(t *testing.T, base string, inc *api.Incident) bool {
	t.Helper()
	var list api.List
	if getJSON(t, base+"/api/v1/incidents", &list) != http.StatusOK || len(list.Incidents) != 1 {
		return false
	}
	*inc = api.Incident{}
	return getJSON(t, base+"/api/v1/incidents/"+list.Incidents[0].ID, inc) == http.StatusOK
}

// deliver sends a signed PagerDuty delivery to replica first, and, as a
// load balancer and PagerDuty's retries would, to the next replica while
// one does not answer 2xx. It returns the status that acknowledged it.
func (r *replicas) deliver(t *testing.T, first int, id string, body []byte) int {
	for attempt := range 3 * len(r.bases) {
		base := r.bases[(first+attempt)%len(r.bases)]
		req, err := signedRequest(r.cfg, "pagerduty", "", base, id, body)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // a replica that is gone
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return resp.StatusCode
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("delivery %s acknowledged by no replica", id)
	return 0
}

// storm is a page storm on one service: n PagerDuty incidents triggered
// within the merge window, each a real PagerDuty payload with its own id.
func storm(t *testing.T, n int, eventType string, offset time.Duration) [][]byte {
	t.Helper()
	start := time.Date(2021, 6, 4, 13, 35, 29, 0, time.UTC)
	bodies := make([][]byte, n)
	for i := range n {
		edits := map[string]any{
			"event.id":            fmt.Sprintf("%s-%03d", strings.ReplaceAll(eventType, ".", "-"), i),
			"event.occurred_at":   start.Add(time.Duration(i)*time.Second + offset).Format(time.RFC3339),
			"event.data.id":       fmt.Sprintf("PSTORM%03d", i),
			"event.data.number":   1000 + i,
			"event.data.html_url": fmt.Sprintf("https://pig208.pagerduty.com/incidents/PSTORM%03d", i),
		}
		name := "incident.triggered.json"
		if eventType == "incident.resolved" {
			name = "incident.resolved.json"
		}
		raw, err := os.ReadFile(payloadFile(t, "pagerduty", name, edits))
		require.NoError(t, err)
		bodies[i] = raw
	}
	return bodies
}

// Three replicas on one PostgreSQL take a storm of 200 pages for one
// service, spread across them concurrently with 50 duplicate deliveries
// and a resolve racing the triggers, while the replica that processes is
// killed mid-storm; then every page resolves. The
// storm is one incident with every page once and one trigger entry each,
// one review issue, and one PagerDuty note on every page.
func TestReplicasShareOneStorm(t *testing.T) {
	t.Parallel()
	if e2eStore() != config.DriverPostgres {
		t.Skip("replicas share a PostgreSQL database: run with " + e2eStoreVar + "=postgres")
	}
	const pages, duplicates = 200, 50
	fake := githubtest.New(t)
	pd := pagerdutytest.New(t)
	path, _ := testConfig(t, freeAddr(t))
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	text = []byte(withPagerDutyNotes(string(text), pd.URL))
	text = append(text, fmt.Sprintf("github: {token: \"gh-token\", base_url: %q, review_repo: acme/incidents}\n"+
		"review: {open_after: 0s}\njobs: {timeout: 10s, rescue_after: 10s}\nprocessing: {lease: 6s}\n", fake.URL)...)
	require.NoError(t, os.WriteFile(path, text, 0o600))
	r := startReplicas(t, path, 3)
	leader := r.leader(t, -1)

	triggers := storm(t, pages, "incident.triggered", 0)
	resolves := storm(t, pages, "incident.resolved", 45*time.Minute)
	var (
		wg     sync.WaitGroup
		sent   atomic.Int32
		dups   atomic.Int32
		killed = make(chan time.Time, 1)
	)
	// One page's resolve races the triggers: decided before or after its
	// own trigger and the others, it lands on the one incident. It
	// happened after the whole storm had begun (the storm spans 200 s):
	// a resolve that happened before some of the storm's pages started,
	// decided before their triggers, leaves those pages a record of their
	// own, as records are never merged after the fact (decisions §8).
	race := storm(t, pages, "incident.resolved", 4*time.Minute)[7]
	wg.Go(func() { r.deliver(t, 1, "race-resolve-007", race) })
	for i, body := range triggers {
		wg.Go(func() {
			id := fmt.Sprintf("trigger-%03d", i)
			r.deliver(t, i%3, id, body)
			if sent.Add(1) == pages/2 {
				// The replica that processes, mid-storm, whatever it was
				// doing: another takes over its lease and its work.
				r.hubs[leader].kill()
				killed <- time.Now()
			}
			if i < duplicates {
				// PagerDuty's retry of an acknowledged delivery, elsewhere.
				if r.deliver(t, (i+2)%3, id, body) == http.StatusOK {
					dups.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(duplicates), dups.Load(), "every redelivery is answered as a duplicate")
	at := <-killed
	successor := r.leader(t, leader)
	t.Logf("replica %d took over the processing lease %s after replica %d was killed", successor, time.Since(at).Round(time.Millisecond), leader)

	var live []string
	for i, b := range r.bases {
		if i != leader {
			live = append(live, b)
		}
	}
	var inc api.Incident
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return onlyIncident(t, live[0], &inc) && len(inc.Links.PagerDuty) == pages
	}, 60*time.Second, 100*time.Millisecond, "every page on the one incident")

	for i, body := range resolves {
		wg.Go(func() { r.deliver(t, i%3, fmt.Sprintf("resolve-%03d", i), body) })
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return onlyIncident(t, live[1], &inc) && inc.Links.ReviewDoc != ""
	}, 60*time.Second, 100*time.Millisecond, "the incident resolves and its review doc opens")

	var list api.List
	require.Equal(t, http.StatusOK, getJSON(t, live[0]+"/api/v1/incidents", &list))
	require.Len(t, list.Incidents, 1, "one incident")
	triggered := 0
	for _, e := range inc.Timeline {
		if e.Kind == "page.triggered" {
			triggered++
		}
	}
	require.Equal(t, pages, triggered, "one trigger entry per page")
	require.Len(t, fake.Issues(), 1, "one review issue")
	// Every page: its triage note, and the review doc's.
	require.Eventually(t, func() bool {
		for i := range pages {
			if len(pd.Notes(fmt.Sprintf("PSTORM%03d", i))) != 2 {
				return false
			}
		}
		return true
	}, 60*time.Second, 200*time.Millisecond, "two notes on every page")
	time.Sleep(2 * time.Second) // anything left over would run now
	for i := range pages {
		markers := noteMarkers(pd.Notes(fmt.Sprintf("PSTORM%03d", i)))
		require.Len(t, markers, 2, "page %d", i)
		for m, n := range markers {
			require.Equal(t, 1, n, "still one %s note on page %d", m, i)
		}
	}
	require.Len(t, fake.Issues(), 1, "still one review issue")
}

// PostgreSQL goes away during intake and comes back: the hub answers 503
// while it is down (PagerDuty and Jira retry), 2xx again by itself once it
// is back, and every delivery it acknowledged, before or after, is
// processed. The test runs a PostgreSQL of its own, to restart it.
func TestPostgresRestartDuringIntake(t *testing.T) {
	t.Parallel()
	if e2eStore() != config.DriverPostgres {
		t.Skip("run with " + e2eStoreVar + "=postgres")
	}
	server := privatePostgres(t)
	addr := freeAddr(t)
	path, _ := testConfig(t, addr)
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	text = []byte(strings.Replace(string(text), fmt.Sprintf("dsn: %q", cfg.Storage.DSN), fmt.Sprintf("dsn: %q", server.dsn), 1))
	require.NoError(t, os.WriteFile(path, text, 0o600))
	r := &replicas{bases: []string{"http://" + addr}, cfg: cfg}
	startHub(t, path, r.bases[0])

	const pages = 60
	bodies := storm(t, pages, "incident.triggered", 0)
	var unavailable, other atomic.Int32
	send := func(i int) {
		for {
			req, err := signedRequest(r.cfg, "pagerduty", "", r.bases[0], fmt.Sprintf("restart-%03d", i), bodies[i])
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err, "the hub itself stays up")
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				return
			case resp.StatusCode == http.StatusServiceUnavailable:
				unavailable.Add(1) // as PagerDuty does: retry
				time.Sleep(100 * time.Millisecond)
			default:
				other.Add(1)
				t.Errorf("delivery %d: %d", i, resp.StatusCode)
				return
			}
		}
	}
	for i := range pages / 3 {
		send(i)
	}
	server.stop(t)
	var wg sync.WaitGroup
	for i := pages / 3; i < 2*pages/3; i++ {
		wg.Go(func() { send(i) })
	}
	require.Eventually(t, func() bool { return unavailable.Load() > 0 }, 10*time.Second, 20*time.Millisecond,
		"503 while the database is down")
	require.Eventually(t, func() bool {
		resp, err := http.Get(r.bases[0] + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 20*time.Millisecond, "not ready while the database is down")
	server.start(t)
	wg.Wait()
	for i := 2 * pages / 3; i < pages; i++ {
		send(i)
	}
	waitHealthy(t, r.bases[0])
	require.Zero(t, other.Load())

	var inc api.Incident
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return onlyIncident(t, r.bases[0], &inc) && len(inc.Links.PagerDuty) == pages
	}, 60*time.Second, 100*time.Millisecond, "every acknowledged page processed")
	var list api.List
	require.Equal(t, http.StatusOK, getJSON(t, r.bases[0]+"/api/v1/incidents", &list))
	require.Len(t, list.Incidents, 1)
	t.Logf("%d answers were 503 while PostgreSQL was down", unavailable.Load())
}

// postgresServer is a PostgreSQL of a test's own (.ci/postgres), for tests
// that stop and start their server.
type postgresServer struct {
	dsn string
	env []string
}

func privatePostgres(t *testing.T) *postgresServer {
	t.Helper()
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	s := &postgresServer{env: append(os.Environ(), "PGPORT_FOR_TESTS="+port,
		"PGDATA_FOR_TESTS="+filepath.Join(os.TempDir(), "incidenthub-test-postgres-"+port))}
	t.Cleanup(func() {
		s.stop(t)
		require.NoError(t, os.RemoveAll(filepath.Join(os.TempDir(), "incidenthub-test-postgres-"+port)))
	})
	s.dsn = s.run(t, "start")
	return s
}

func (s *postgresServer) run(t *testing.T, verb string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", ".ci", "postgres"), verb)
	cmd.Env = s.env
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Logf("%s", exit.Stderr)
	}
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func (s *postgresServer) stop(t *testing.T)  { s.run(t, "stop") }
func (s *postgresServer) start(t *testing.T) { require.Equal(t, s.dsn, s.run(t, "start")) }
