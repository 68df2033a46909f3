package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/httpserver"
)

// The README's first minute, verbatim: Terminal 2's commands and the
// signed payloads after it, run as written against the hub `make run`
// starts, from a copy of the files they name. Not parallel: it sets the
// environment the README exports and works in its own directory.
func TestReadmeFirstMinute(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(readme, -1)
	require.GreaterOrEqual(t, len(blocks), 4, "the two commands, the demo, Terminal 1, Terminal 2, any payload")
	var terminal2, payloads string
	for _, b := range blocks {
		switch block := string(b[1]); {
		case strings.Contains(block, "export INCIDENTHUB_CONFIG="):
			terminal2 = block
		case strings.Contains(block, "webhook send --source pagerduty --file testdata/"):
			payloads = block
		}
	}
	require.NotEmpty(t, terminal2, "README's Terminal 2")
	require.NotEmpty(t, payloads, "README's signed payloads")

	// A copy of what the commands read, with the hub on a free port.
	dir := t.TempDir()
	addr := freeAddr(t)
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "incidenthub.example.yaml"))
	require.NoError(t, err)
	listen := regexp.MustCompile(`(?m)^listen: .*$`)
	require.True(t, listen.Match(example))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "config"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config", "incidenthub.example.yaml"),
		listen.ReplaceAll(example, []byte("listen: "+addr)), 0o600))
	require.NoError(t, os.CopyFS(filepath.Join(dir, "testdata"), os.DirFS(filepath.Join("..", "..", "testdata"))))
	t.Chdir(dir)

	// Terminal 1: make run, with the Makefile's development values.
	for _, m := range regexp.MustCompile(`(?m)^export (\w+) +\?= (\S+)$`).FindAllSubmatch(makefile, -1) {
		t.Setenv(string(m[1]), string(m[2]))
	}
	cfg, err := config.LoadFile(filepath.Join("config", "incidenthub.example.yaml"))
	require.NoError(t, err)
	var srv *httpserver.Server
	app := fxtest.New(t, appOptions(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()

	run := func(line string) string {
		line, _, _ = strings.Cut(line, "#")
		args := strings.Fields(os.ExpandEnv(line))
		if len(args) == 0 {
			return ""
		}
		switch args[0] {
		case "export":
			for _, kv := range args[1:] {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			return ""
		case "make":
			require.Equal(t, []string{"make", "sample"}, args, "the README runs no other target here")
			var out strings.Builder
			for _, args := range sampleCommands(t, makefile, os.Getenv("INCIDENTHUB_CONFIG")) {
				out.WriteString(cli(t, args...))
			}
			// A person types the next command; the hub has processed the
			// story by then.
			require.Eventually(t, func() bool {
				return strings.Contains(cli(t, "incidents", "list"), "INC-1  resolved")
			}, 10*time.Second, 50*time.Millisecond)
			return out.String()
		case "bin/incidenthub":
			return cli(t, args[1:]...)
		case "curl":
			require.Equal(t, "-H", args[1], line)
			url := args[len(args)-1]
			require.Contains(t, url, "http://127.0.0.1:8080/", "the README's address")
			req, err := http.NewRequest(http.MethodGet, strings.Replace(url, "127.0.0.1:8080", addr, 1), nil)
			require.NoError(t, err)
			name, value, _ := strings.Cut(strings.Trim(strings.Join(args[2:len(args)-1], " "), `"`), ": ")
			req.Header.Set(name, value)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			return string(body)
		}
		t.Fatalf("the README runs %q, which this test does not know", line)
		return ""
	}
	var out strings.Builder
	for _, block := range []string{terminal2, payloads} {
		// A trailing backslash continues the command on the next line.
		for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out.WriteString(run(line))
			}
		}
	}
	said := out.String()
	for _, want := range []string{
		"202 Accepted", "INC-1  resolved  SEV2", "page.resolved", `"id": "INC-1"`,
		"<!-- incidenthub:incident INC-1 ", "github.review_doc", "Deploy of Codertocat/Hello-World@",
	} {
		require.Contains(t, said, want)
	}
}

// sampleCommands are the Makefile's sample lines, each the arguments of
// ./bin/incidenthub with config for $(CONFIG).
func sampleCommands(t *testing.T, makefile []byte, config string) [][]string {
	t.Helper()
	recipe := regexp.MustCompile(`(?m)^sample:.*\n((?:\t.*\n)+)`).FindSubmatch(makefile)
	require.NotNil(t, recipe, "the sample target")
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(recipe[1])), "\n") {
		args := strings.Fields(strings.ReplaceAll(line, "$(CONFIG)", config))
		require.Equal(t, "./bin/incidenthub", args[0], line)
		out = append(out, args[1:])
	}
	return out
}
