package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Secrets from files (`*_file`, as Kubernetes and Docker mount them):
// rotating the API token and the PagerDuty webhook secret takes effect in
// the running hub without a restart, when the file changes and on SIGHUP.
func TestSecretFilesRotateWithoutRestart(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	path, _ := testConfig(t, addr)
	dir := filepath.Dir(path)
	write := func(name, value string) {
		// As Kubernetes does: a new file renamed over the old one.
		tmp := filepath.Join(dir, "."+name+".tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(value+"\n"), 0o600))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
	}
	write("api-token", "token-one")
	write("pagerduty-secret", "pd-secret-one")
	cfgText, err := os.ReadFile(path)
	require.NoError(t, err)
	cfgText = []byte(strings.Replace(string(cfgText), fmt.Sprintf("api: {tokens: [%q]}", testToken), "api: {tokens_file: api-token}", 1))
	cfgText = []byte(strings.Replace(string(cfgText), fmt.Sprintf("pagerduty: {webhook_secrets: [%q]}", testSecret),
		"pagerduty: {webhook_secrets_file: pagerduty-secret}", 1))
	require.NoError(t, os.WriteFile(path, cfgText, 0o600))
	require.Contains(t, cli(t, "config", "check", "--config", path), "api: on")

	hub := startHub(t, path, base)
	status := func(token string) int {
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status("token-one"))

	// The file changes: the next requests see the new token.
	write("api-token", "token-two")
	require.Eventually(t, func() bool { return status("token-two") == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, status("token-one"), "the old token no longer works")

	// The webhook secret too: `webhook send` signs with the file's secret
	// as it is now, and the hub checks with the same.
	write("pagerduty-secret", "pd-secret-two")
	require.Eventually(t, func() bool { return strings.Contains(hub.logs.String(), "pagerduty-secret") }, 10*time.Second, 50*time.Millisecond,
		"the reload is logged, naming the file and never the secret")
	require.Contains(t, cli(t, "webhook", "send", "--config", path, "--url", base, "--file", sample(t, "incident.triggered.json")), "202 Accepted")

	// SIGHUP reads the files again, and does not end the process.
	require.NoError(t, hub.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(hub.logs.String(), `cause=SIGHUP`) }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusOK, status("token-two"), "still serving after SIGHUP")
	require.NotContains(t, hub.logs.String(), "token-two")
	require.NotContains(t, hub.logs.String(), "pd-secret-two")
}
