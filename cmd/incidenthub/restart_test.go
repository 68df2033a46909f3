package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/api"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/store"
)

// hubProcess is `incidenthub serve` in a child process.
type hubProcess struct {
	cmd  *exec.Cmd
	logs *logBuffer
}

func startHub(t testing.TB, configPath, base string, flags ...string) *hubProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--config", configPath}, flags...)...)
	cmd.Env = append(os.Environ(), "INCIDENTHUB_TEST_AS_MAIN=1")
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	h := &hubProcess{cmd: cmd, logs: logs}
	t.Cleanup(func() { h.kill() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the hub at %s said:\n%s", base, logs.String())
		}
	})
	waitHealthy(t, base)
	return h
}

// kill ends the process at once, as a crash or power cut would.
func (h *hubProcess) kill() {
	if h.cmd.ProcessState == nil {
		_ = h.cmd.Process.Kill()
		_ = h.cmd.Wait()
	}
}

func openTestStore(t *testing.T, cfg *config.Config) *store.Store {
	t.Helper()
	s, err := store.Open(cfg.Storage)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	t.Cleanup(func() { s.Close() })
	return s
}

// The process dies after a delivery is stored and before it is processed:
// after restart it is processed, once.
func TestRestartProcessesStoredDeliveryOnce(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	path, cfg := testConfig(t, addr)

	// Exactly the state intake leaves behind when the process dies right
	// after answering 202: the delivery stored, nothing processed.
	body, err := os.ReadFile(sample(t, "incident.triggered.json"))
	require.NoError(t, err)
	s := openTestStore(t, cfg)
	fresh, err := s.AppendDeliveries(context.Background(), []delivery.Delivery{{
		Source: incident.SourcePagerDuty, ID: "stored-before-crash", ReceivedAt: time.Now(), Body: body,
	}})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, fresh)

	hub := startHub(t, path, base)
	inc := waitIncident(t, base, "INC-1", 1)
	require.Len(t, inc.Timeline, 1)
	processed, err := s.Delivery(context.Background(), incident.SourcePagerDuty, "stored-before-crash")
	require.NoError(t, err)
	require.Equal(t, delivery.StatusProcessed, processed.Status)
	hub.kill()

	startHub(t, path, base)
	var list api.List
	require.Equal(t, http.StatusOK, getJSON(t, base+"/api/v1/incidents", &list))
	require.Len(t, list.Incidents, 1)
	again, err := s.Delivery(context.Background(), incident.SourcePagerDuty, "stored-before-crash")
	require.NoError(t, err)
	require.Equal(t, processed.ProcessedAt, again.ProcessedAt, "not processed a second time")
	require.Len(t, waitIncident(t, base, "INC-1", 1).Timeline, 1)
}

// Killed right after answering 202, whether or not processing had run:
// after restart there is exactly one incident with one entry per event.
func TestKilledAfterAcceptIsExactlyOnce(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	path, _ := testConfig(t, addr)

	hub := startHub(t, path, base)
	for _, f := range []string{"incident.triggered.json", "incident.acknowledged.json"} {
		out := cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, f))
		require.Contains(t, out, "202 Accepted")
	}
	hub.kill()

	startHub(t, path, base)
	// Its number may not be INC-1: on PostgreSQL a number taken by the
	// transaction the kill cut short is not given again.
	var inc api.Incident
	require.Eventually(t, func() bool { return onlyIncident(t, base, &inc) && len(inc.Timeline) >= 2 },
		10*time.Second, 20*time.Millisecond, "one incident with both events")
	require.Len(t, inc.Timeline, 2)
	require.Equal(t, "acknowledged", inc.Pages[1].Status)
	var list api.List
	require.Equal(t, http.StatusOK, getJSON(t, base+"/api/v1/incidents", &list))
	require.Len(t, list.Incidents, 1)
}

// SIGTERM stops the hub cleanly: the process exits 0.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	path, _ := testConfig(t, addr)
	hub := startHub(t, path, "http://"+addr)
	require.NoError(t, hub.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, hub.cmd.Wait(), hub.logs.String())
	require.Contains(t, hub.logs.String(), "stopping")
	require.NotContains(t, hub.logs.String(), testSecret)
}

// With --no-migrate the hub refuses a database whose schema is behind,
// and starts once `incidenthub migrate` has brought it (and the job
// queue's tables) up to date: migrations as an explicit upgrade step.
func TestServeNoMigrate(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	path, _ := testConfig(t, addr)

	out := &bytes.Buffer{}
	cmd := exec.Command(os.Args[0], "serve", "--no-migrate", "--config", path)
	cmd.Env = append(os.Environ(), "INCIDENTHUB_TEST_AS_MAIN=1")
	cmd.Stdout, cmd.Stderr = out, out
	require.Error(t, cmd.Run(), "a fresh database is behind")
	require.Contains(t, out.String(), "schema is not current")

	require.Contains(t, cli(t, "migrate", "--config", path), "migrations applied")
	base := "http://" + addr
	startHub(t, path, base, "--no-migrate")
	sendResolvedPage(t, path, base)
	waitIncident(t, base, "INC-1", 3)
}
