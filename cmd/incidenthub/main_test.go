package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// TestMain lets tests run this test binary as the incidenthub command, so
// crash tests kill a real process without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("INCIDENTHUB_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	if addr := os.Getenv(noopAddrVar); addr != "" {
		os.Exit(serveNoop(addr))
	}
	os.Exit(m.Run())
}

const (
	testSecret = "pd-test-secret-9f2c"
	testToken  = "api-test-token-41ab"
)

// testConfig writes a configuration for one test and returns its path.
func testConfig(t testing.TB, listen string) (string, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "incidenthub.yaml")
	storage := fmt.Sprintf(`{driver: sqlite, dsn: "file:%s/hub.db", synchronous: full}`, dir)
	if e2eStore() == config.DriverPostgres {
		storage = fmt.Sprintf(`{driver: postgres, dsn: %q}`, storetest.Storage(t, config.DriverPostgres).DSN)
	}
	yaml := fmt.Sprintf(`listen: %q
storage: %s
api: {tokens: [%q]}
pagerduty: {webhook_secrets: [%q]}
severities:
  - {name: SEV1, pagerduty_priorities: [P1], review: required}
  - {name: SEV2, pagerduty_priorities: [P2], urgency: high, review: required}
  - {name: SEV4, pagerduty_priorities: [P4], urgency: low, review: none}
services:
  - {name: payments, pagerduty_service_ids: [PA2P440]}
`, listen, storage, testToken, testSecret)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.LoadFile(path)
	require.NoError(t, err)
	return path, cfg
}

// e2eStoreVar chooses the store the end-to-end tests run the hub on:
// sqlite (the default) or postgres, whose server storetest.PostgresDSNVar
// names. `make test` runs them once on each.
const e2eStoreVar = "INCIDENTHUB_TEST_E2E_STORE"

func e2eStore() string {
	if os.Getenv(e2eStoreVar) == config.DriverPostgres {
		return config.DriverPostgres
	}
	return config.DriverSQLite
}

// sqlitePassOnly skips a test on the PostgreSQL pass of the end-to-end
// suite when what it proves does not depend on the hub's store (why): the
// SQLite pass has proved it, and running it twice only costs CI time that
// `make test` does not have to spare on a slow machine.
func sqlitePassOnly(t *testing.T, why string) {
	t.Helper()
	if e2eStore() == config.DriverPostgres {
		t.Skip("proved on the SQLite pass: " + why)
	}
}

// freeAddr returns a loopback address for a hub to listen on. Its port
// lies outside the kernel's ephemeral range: a port from that range, free
// when chosen, can be taken by an outbound connection or by a vendor
// double listening on port 0 while a killed hub is being restarted on it
// (CI saw both). No port is handed out twice in one test process (only
// this package's tests start hubs, one package at a time).
func freeAddr(t testing.TB) string {
	t.Helper()
	hubPorts.Lock()
	defer hubPorts.Unlock()
	from, to := hubPortRange()
	for range 1000 {
		port := from
		if to > from {
			port += rand.IntN(to - from)
		}
		if hubPorts.given[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // someone else's
		}
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		if port != 0 {
			hubPorts.given[port] = true
		}
		return addr
	}
	t.Fatalf("no free port in [%d, %d)", from, to)
	return ""
}

var hubPorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// hubPortRange is where hubs' ports are chosen: below the ephemeral range
// (Linux's ip_local_port_range; 32768 on other systems, whose ranges start
// higher), above the well-known and commonly configured ports, or above
// the range when it starts too low for that. With no room either side,
// it is port 0, as a last resort.
func hubPortRange() (from, to int) {
	const floor, room = 20000, 2000
	low, high := 32768, 60999
	if text, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(text)); len(f) == 2 {
			l, errL := strconv.Atoi(f[0])
			h, errH := strconv.Atoi(f[1])
			if errL == nil && errH == nil {
				low, high = l, h
			}
		}
	}
	switch {
	case low-floor >= room:
		return floor, low
	case 65535-high >= room:
		return high + 1, 65536
	}
	return 0, 0
}

// sendResolvedPage sends PagerDuty's sample page and its resolve (the
// resolve edited onto the sample's incident), as a hub sees an incident
// come and go.
func sendResolvedPage(t *testing.T, path, base string) {
	t.Helper()
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json"))
	cli(t, "webhook", "send", "--config", path, "--url", base, "--file", payloadFile(t, "pagerduty", "incident.resolved.json", map[string]any{
		"event.data.id": "PFQZPSY", "event.occurred_at": "2021-06-04T14:20:00Z",
	}))
}

func sample(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "pagerduty", name)
}

// cli runs the command in-process and returns what it printed.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	out := &bytes.Buffer{}
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	require.NoError(t, cmd.Execute(), out.String())
	return out.String()
}

// withPagerDutyNotes gives a test configuration PagerDuty's API, at the
// double's URL, so that notes are written.
func withPagerDutyNotes(cfg, url string) string {
	return strings.Replace(cfg, "pagerduty: {webhook_secrets:",
		fmt.Sprintf("pagerduty: {api_token: pd-token, from_email: oncall@example.com, base_url: %q, webhook_secrets:", url), 1)
}

// cliErr runs the command, which must fail, and returns its error.
func cliErr(t *testing.T, args ...string) string {
	t.Helper()
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	require.Error(t, err, args)
	return err.Error()
}

// getJSON calls the API with the test token.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(raw, v), string(raw))
	}
	return resp.StatusCode
}

// waitIncident polls the API until the incident has n timeline entries.
func waitIncident(t *testing.T, base, id string, entries int) api.Incident {
	t.Helper()
	var inc api.Incident
	require.Eventually(t, func() bool {
		inc = api.Incident{}
		return getJSON(t, base+"/api/v1/incidents/"+id, &inc) == http.StatusOK && len(inc.Timeline) >= entries
	}, 10*time.Second, 20*time.Millisecond, "incident %s with %d entries", id, entries)
	return inc
}

func waitHealthy(t testing.TB, base string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "hub at %s never became ready", base)
}

// logBuffer collects logs that the app's goroutines write while a test
// reads them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
