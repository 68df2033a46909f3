package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// benchE2EVar runs TestBenchE2E (`make bench-e2e`); make test skips it.
// Its value names the phases to run, comma-separated (closed, open,
// burst, note), or is 1 or all for all of them.
const benchE2EVar = "INCIDENTHUB_BENCH_E2E"

// benchPhases are the phases of TestBenchE2E, in the order they run.
var benchPhases = []string{"closed", "open", "burst", "note"}

// benchPhasesAsked returns the phases benchE2EVar names, refusing one
// that does not exist rather than measuring nothing.
func benchPhasesAsked(t *testing.T) map[string]bool {
	v := strings.TrimSpace(os.Getenv(benchE2EVar))
	asked := map[string]bool{}
	if v == "1" || v == "all" {
		for _, p := range benchPhases {
			asked[p] = true
		}
		return asked
	}
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(benchPhases, p) {
			t.Fatalf("%s=%s: no phase %q (phases: %s, or all)", benchE2EVar, v, p, strings.Join(benchPhases, ", "))
		}
		asked[p] = true
	}
	return asked
}

// noopAddrVar makes the test binary a no-op webhook receiver on that
// address: the ceiling the hub's intake is compared with, in a process of
// its own like the hub's.
const noopAddrVar = "INCIDENTHUB_TEST_AS_NOOP"

// serveNoop answers every request 202 after reading its body, as a
// receiver that stores nothing would.
func serveNoop(addr string) int {
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// TestBenchE2E drives real processes, the no-op receiver and the hub (on
// SQLite at synchronous=full, and on PostgreSQL when a DSN is set), with
// signed PagerDuty deliveries, and prints side by side from one run:
// intake at 64 connections (deliveries/s, p50/p99, peak RSS, CPU per
// delivery, the ratio to the no-op), intake at 1,000/s offered, a burst of
// 20,000 deliveries (2,000 pages, 10 events each) and how fast the hub
// decides them, and page to first outbound call (its triage note) over
// 1,000 incidents. docs/performance.md keeps the figures.
func TestBenchE2E(t *testing.T) {
	if os.Getenv(benchE2EVar) == "" {
		t.Skip("make bench-e2e runs this (" + benchE2EVar + "=all)")
	}
	asked := benchPhasesAsked(t)
	body, err := os.ReadFile(sample(t, "incident.triggered.json"))
	require.NoError(t, err)
	t.Logf("payload: PagerDuty's incident.triggered, %d bytes", len(body))

	drivers := []string{config.DriverSQLite}
	if os.Getenv(storetest.PostgresDSNVar) != "" {
		drivers = append(drivers, config.DriverPostgres)
	}
	var table []string
	row := func(format string, args ...any) { table = append(table, fmt.Sprintf(format, args...)) }
	var (
		noop     *exec.Cmd
		noopAddr string
	)
	if asked["closed"] || asked["open"] {
		noopAddr = freeAddr(t)
		noop = exec.Command(os.Args[0])
		noop.Env = append(os.Environ(), noopAddrVar+"="+noopAddr)
		require.NoError(t, noop.Start())
		t.Cleanup(func() { _ = noop.Process.Kill(); _ = noop.Wait() })
		waitListening(t, noopAddr)
	}
	if asked["closed"] {
		row("%-30s %12s %8s %8s %9s %11s %6s %10s", "closed loop, 64 connections", "deliveries/s", "p50 ms", "p99 ms", "peak RSS", "CPU/deliv.", "ratio", "decided/s")
		// The no-op runs before and after the hubs, and the ratios divide
		// by the mean of the two: on a shared machine the ceiling drifts
		// by a fifth within a minute, and one reading taken first would
		// tilt every ratio the same way.
		before := closedLoop(t, "http://"+noopAddr, body, noop.Process.Pid, 5*time.Second)
		type hubResult struct {
			driver  string
			load    loadResult
			decided int
		}
		var hubs []hubResult
		for _, driver := range drivers {
			hub := startBenchProcess(t, driver, "")
			r := closedLoop(t, hub.base, body, hub.pid(), 5*time.Second)
			// What the hub decided while it took deliveries: its processor
			// shares the cores with intake, and lags it at this load.
			decided := decidedSoFar(t, hub.base)
			// Stopped at once: deciding its backlog would take the cores
			// from the phases after it.
			hub.hub.kill()
			hubs = append(hubs, hubResult{driver, r, decided})
		}
		after := closedLoop(t, "http://"+noopAddr, body, noop.Process.Pid, 5*time.Second)
		ceiling := (before.rate + after.rate) / 2
		line := "%-30s %12.0f %8.2f %8.2f %7dMB %9.0fµs %6s"
		row(line, "no-op receiver, before", before.rate, before.p50, before.p99, before.rssMB, before.cpuMicros, "")
		row(line, "no-op receiver, after", after.rate, after.p50, after.p99, after.rssMB, after.cpuMicros, "")
		row("%-30s %12.0f %46s", "no-op, mean: the ceiling", ceiling, "1.00")
		for _, h := range hubs {
			r := h.load
			row(line+" %10.0f", "hub on "+h.driver, r.rate, r.p50, r.p99, r.rssMB, r.cpuMicros,
				fmt.Sprintf("%.2f", r.rate/ceiling), float64(h.decided)/r.elapsed.Seconds())
		}
		row("")
	}
	if asked["open"] {
		row("%-30s %12s %8s %8s", "open loop, 1,000/s offered", "answered/s", "p50 ms", "p99 ms")
		// The floor: what this machine and load generator add to any
		// receiver's answer at this rate.
		r := openLoop(t, "http://"+noopAddr, body, 1000, 5*time.Second)
		row("%-30s %12.0f %8.2f %8.2f", "no-op receiver", r.rate, r.p50, r.p99)
		for _, driver := range drivers {
			hub := startBenchProcess(t, driver, "")
			r := openLoop(t, hub.base, body, 1000, 5*time.Second)
			hub.hub.kill()
			row("%-30s %12.0f %8.2f %8.2f", "hub on "+driver, r.rate, r.p50, r.p99)
		}
		row("")
	}
	if asked["burst"] {
		row("%-30s %12s %10s %12s", "burst of 20,000 deliveries", "sent in", "decided in", "decided/s")
		for _, driver := range drivers {
			hub := startBenchProcess(t, driver, "")
			sent, decided := burst(t, hub, body, 2000, 10)
			hub.hub.kill()
			row("%-30s %11.1fs %9.1fs %12.0f", "hub on "+driver, sent.Seconds(), decided.Seconds(), 20000/decided.Seconds())
		}
		row("")
	}
	if asked["note"] {
		row("%-30s %12s %8s %8s", "page to triage note, 1,000", "incidents", "p50 ms", "p99 ms")
		for _, driver := range drivers {
			p50, p99 := pageToNote(t, driver, body, 1000)
			row("%-30s %12d %8.1f %8.1f", "hub on "+driver, 1000, p50, p99)
		}
	}
	fmt.Println("\n" + strings.Join(table, "\n"))
}

type benchProcess struct {
	hub   *hubProcess
	base  string
	store config.Storage
}

func (p *benchProcess) pid() int { return p.hub.cmd.Process.Pid }

// startBenchProcess runs a hub process on a fresh store; extra is more
// configuration (a PagerDuty double for the notes).
func startBenchProcess(t *testing.T, driver, extra string) *benchProcess {
	t.Helper()
	addr := freeAddr(t)
	storage := storetest.Storage(t, driver)
	if driver == config.DriverSQLite {
		storage.DSN = "file:" + filepath.Join(t.TempDir(), "hub.db")
	}
	storage.Synchronous = "full"
	path := filepath.Join(t.TempDir(), "incidenthub.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `listen: %q
storage: {driver: %s, dsn: %q, synchronous: full}
pagerduty: {webhook_secrets: [%q]%s}
severities:
  - {name: SEV2, pagerduty_priorities: [P2], urgency: high, review: none}
services:
  - {name: payments, pagerduty_service_ids: [PA2P440]}
`, addr, storage.Driver, storage.DSN, testSecret, extra), 0o600))
	hub := startHub(t, path, "http://"+addr)
	return &benchProcess{hub: hub, base: "http://" + addr, store: storage}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 10*time.Second, 20*time.Millisecond)
}

type loadResult struct {
	rate, p50, p99 float64
	rssMB          int
	cpuMicros      float64
	elapsed        time.Duration
}

// decidedSoFar is how many deliveries the hub at base has decided since
// it started, from its own metrics: every decided delivery is observed
// once in incidenthub_processing_lag_seconds.
func decidedSoFar(t *testing.T, base string) int {
	t.Helper()
	metrics := httpGet(t, base+"/metrics")
	n := 0
	for _, m := range decidedCount.FindAllStringSubmatch(metrics, -1) {
		v, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		n += v
	}
	return n
}

var decidedCount = regexp.MustCompile(`(?m)^incidenthub_processing_lag_seconds_count\{[^}]*\} (\d+)$`)

// signed is a PagerDuty delivery of body with a fresh id (and event id,
// page id when page is set), signed.
func signed(t *testing.T, base string, body []byte, id string, page string) *http.Request {
	if page != "" {
		var err error
		body, err = editJSON(body, map[string]any{"event.id": "ev-" + id, "event.data.id": page})
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, base+pagerduty.Path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pagerduty.WebhookIDHeader, id)
	req.Header.Set(pagerduty.SignatureHeader, pagerduty.Sign(testSecret, body))
	return req
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 30 * time.Second}

func send(t *testing.T, req *http.Request) time.Duration {
	start := time.Now()
	resp, err := benchClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("answer %s", resp.Status)
	}
	return time.Since(start)
}

var runID atomic.Int64

// closedLoop keeps 64 connections busy for d and measures what pid spent.
func closedLoop(t *testing.T, base string, body []byte, pid int, d time.Duration) loadResult {
	t.Helper()
	prefix := fmt.Sprintf("closed-%d-", runID.Add(1))
	cpuBefore := cpuTime(t, pid)
	var (
		n   atomic.Int64
		mu  sync.Mutex
		all []time.Duration
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				mine = append(mine, send(t, signed(t, base, body, prefix+strconv.FormatInt(n.Add(1), 10), "")))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := summarise(all, elapsed)
	r.rssMB = peakRSSMB(t, pid)
	r.cpuMicros = float64((cpuTime(t, pid) - cpuBefore).Microseconds()) / float64(len(all))
	return r
}

// openLoop offers rate deliveries a second for d, whatever the answers.
func openLoop(t *testing.T, base string, body []byte, rate int, d time.Duration) loadResult {
	t.Helper()
	prefix := fmt.Sprintf("open-%d-", runID.Add(1))
	var (
		mu  sync.Mutex
		all []time.Duration
		wg  sync.WaitGroup
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		<-tick.C
		wg.Go(func() {
			l := send(t, signed(t, base, body, prefix+strconv.Itoa(i), ""))
			mu.Lock()
			all = append(all, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarise(all, time.Since(start))
}

func summarise(all []time.Duration, elapsed time.Duration) loadResult {
	slices.Sort(all)
	at := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	return loadResult{rate: float64(len(all)) / elapsed.Seconds(), p50: at(0.5), p99: at(0.99), elapsed: elapsed}
}

// burst sends pages×events deliveries over 64 connections as fast as the
// hub takes them, and waits until it has decided them all.
func burst(t *testing.T, hub *benchProcess, body []byte, pages, events int) (sent, decided time.Duration) {
	t.Helper()
	total := pages * events
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(total); i = next.Add(1) - 1 {
				send(t, signed(t, hub.base, body, fmt.Sprintf("burst-%d", i), fmt.Sprintf("PBURST%d", i%int64(pages))))
			}
		})
	}
	wg.Wait()
	sent = time.Since(start)
	s, err := store.Open(hub.store)
	require.NoError(t, err)
	defer s.Close()
	require.Eventually(t, func() bool {
		pending, err := s.Deliveries(context.Background(), store.DeliveryFilter{Status: delivery.StatusPending, Limit: 1})
		return err == nil && len(pending) == 0
	}, 10*time.Minute, 10*time.Millisecond)
	return sent, time.Since(start)
}

// pageToNote sends n pages, each its own incident, at 20 a second (a
// busy day's pace, and within what PagerDuty lets one token write), and
// times each until its triage note reaches the PagerDuty double.
func pageToNote(t *testing.T, driver string, body []byte, n int) (p50, p99 float64) {
	t.Helper()
	pd := pagerdutytest.New(t)
	var (
		mu    sync.Mutex
		sent  = map[string]time.Time{}
		waits []time.Duration
		done  = make(chan struct{})
	)
	pd.OnNote = func(page string) {
		mu.Lock()
		defer mu.Unlock()
		if at, ok := sent[page]; ok {
			waits = append(waits, time.Since(at))
			delete(sent, page)
			if len(waits) == n {
				close(done)
			}
		}
	}
	hub := startBenchProcess(t, driver, fmt.Sprintf(", api_token: bench, from_email: oncall@example.com, base_url: %q", pd.URL))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	base := time.Now().UTC().Add(-24 * time.Hour)
	for i := range n {
		<-tick.C
		page := fmt.Sprintf("PNOTE%d", i)
		// An hour apart, so that each page is an incident of its own.
		edited, err := editJSON(body, map[string]any{"event.id": "ev-" + page, "event.data.id": page,
			"event.occurred_at": base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)})
		require.NoError(t, err)
		req := signed(t, hub.base, edited, "note-"+page, "")
		mu.Lock()
		sent[page] = time.Now()
		mu.Unlock()
		go send(t, req)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d of %d triage notes after two minutes", len(waits), n)
	}
	s := summarise(waits, time.Second)
	return s.p50, s.p99
}

// cpuTime is the user and system time a process has spent (Linux).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// peakRSSMB is a process's peak resident set (VmHWM), in MB.
func peakRSSMB(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb / 1024
		}
	}
	return 0
}
