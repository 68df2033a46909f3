package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/incidenthub/incidenthub/config"
)

// The deployment files are not run by the tests (no Docker or Kubernetes
// here); these checks keep them true to the binary and the configuration:
// every command they run parses as the CLI's, every configuration they
// carry loads strictly, and their probes ask the hub's own endpoints.

func deployFile(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", name))
	require.NoError(t, err)
	return raw
}

// requireCommand checks that args are a command and flags of this binary.
func requireCommand(t *testing.T, args []string) {
	t.Helper()
	root := newRootCommand()
	cmd, rest, err := root.Find(args)
	require.NoError(t, err, "%v", args)
	require.NotEqual(t, root, cmd, "%v names no command", args)
	require.NoError(t, cmd.ParseFlags(rest), "%v", args)
}

// requireConfig loads a deployment's configuration strictly, with every
// variable it names set, and returns the variables.
func requireConfig(t *testing.T, name string, raw []byte) (*config.Config, []string) {
	t.Helper()
	var vars []string
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(raw), -1) {
		if !slices.Contains(vars, m[1]) {
			vars = append(vars, m[1])
		}
	}
	cfg, err := config.Parse(name, raw, func(k string) (string, bool) {
		if k == "INCIDENTHUB_DATABASE_URL" {
			return "postgres://incidenthub:pw@db:5432/incidenthub?pool_max_conns=10", true
		}
		return "set-" + strings.ToLower(k), true
	})
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.Listen, "every interface, port 8080, in a container")
	require.Equal(t, config.DriverPostgres, cfg.Storage.Driver)
	return cfg, vars
}

func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	file := string(deployFile(t, "Dockerfile"))
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(file, -1)
	require.Len(t, froms, 2)
	for _, f := range froms {
		require.Regexp(t, `@sha256:[0-9a-f]{64}$`, f[1], "base images are pinned by digest")
	}
	hc := regexp.MustCompile(`CMD \["/usr/local/bin/incidenthub", (.*)\]`).FindStringSubmatch(file)
	require.NotNil(t, hc, "a HEALTHCHECK that needs no shell")
	requireCommand(t, strings.Split(strings.ReplaceAll(hc[1], `"`, ""), ", "))
	ignore := string(deployFile(t, ".dockerignore"))
	for _, kept := range []string{".git", "bin", "data", "*.db"} {
		require.Contains(t, strings.Fields(ignore), kept, "the build context leaves %s out", kept)
	}
}

func TestDeployCompose(t *testing.T) {
	t.Parallel()
	requireConfig(t, "deploy/incidenthub.yaml", deployFile(t, "deploy/incidenthub.yaml"))
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(deployFile(t, "deploy/docker-compose.yml"), &compose))
	_, vars := requireConfig(t, "deploy/incidenthub.yaml", deployFile(t, "deploy/incidenthub.yaml"))
	nginx := string(deployFile(t, "deploy/nginx.conf"))
	for _, name := range []string{"incidenthub-1", "incidenthub-2", "incidenthub-3", "migrate"} {
		svc, ok := compose.Services[name]
		require.True(t, ok, name)
		requireCommand(t, svc.Command)
		require.Contains(t, svc.Volumes, "./incidenthub.yaml:/etc/incidenthub/incidenthub.yaml:ro")
		for _, v := range vars {
			require.Contains(t, svc.Environment, v, "%s sets every variable the configuration names", name)
		}
		if name != "migrate" {
			require.Equal(t, []string{"serve", "--no-migrate"}, svc.Command)
			require.Contains(t, nginx, "server "+name+":8080", "the load balancer reaches %s", name)
		}
	}
}

func TestDeployKubernetes(t *testing.T) {
	t.Parallel()
	type probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
		} `yaml:"httpGet"`
	}
	type container struct {
		Args      []string `yaml:"args"`
		Readiness probe    `yaml:"readinessProbe"`
		Liveness  probe    `yaml:"livenessProbe"`
	}
	var (
		kinds   []string
		secrets map[string]string
		conf    string
		labels  map[string]string
		pdb     map[string]string
		init    []container
		main    []container
	)
	dec := yaml.NewDecoder(bytes.NewReader(deployFile(t, "deploy/kubernetes/incidenthub.yaml")))
	for {
		var doc struct {
			Kind       string            `yaml:"kind"`
			StringData map[string]string `yaml:"stringData"`
			Data       map[string]string `yaml:"data"`
			Spec       struct {
				Selector struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"selector"`
				Template struct {
					Metadata struct {
						Labels map[string]string `yaml:"labels"`
					} `yaml:"metadata"`
					Spec struct {
						InitContainers []container `yaml:"initContainers"`
						Containers     []container `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		kinds = append(kinds, doc.Kind)
		switch doc.Kind {
		case "Secret":
			secrets = doc.StringData
		case "ConfigMap":
			conf = doc.Data["incidenthub.yaml"]
		case "Deployment":
			labels = doc.Spec.Template.Metadata.Labels
			init, main = doc.Spec.Template.Spec.InitContainers, doc.Spec.Template.Spec.Containers
		case "PodDisruptionBudget":
			pdb = doc.Spec.Selector.MatchLabels
		}
	}
	require.ElementsMatch(t, []string{"Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}, kinds)
	_, vars := requireConfig(t, "deploy/kubernetes/incidenthub.yaml", []byte(conf))
	for _, v := range vars {
		require.Contains(t, secrets, v, "the Secret holds every variable the configuration names")
	}
	require.Equal(t, labels, pdb, "the disruption budget covers the Deployment's pods")
	require.Len(t, init, 1)
	require.Equal(t, []string{"migrate"}, init[0].Args)
	require.Len(t, main, 1)
	requireCommand(t, main[0].Args)
	require.Equal(t, "/readyz", main[0].Readiness.HTTPGet.Path, "ready while the store answers")
	require.Equal(t, "/healthz", main[0].Liveness.HTTPGet.Path)
}

// The Kubernetes Secret ships empty: applied unedited, the hub refuses to
// start rather than accept deliveries signed with a known secret.
func TestDeployKubernetesSecretsStartEmpty(t *testing.T) {
	t.Parallel()
	raw := deployFile(t, "deploy/kubernetes/incidenthub.yaml")
	require.NotContains(t, string(raw), "change-me")
	var secrets map[string]string
	var conf string
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind       string            `yaml:"kind"`
			StringData map[string]string `yaml:"stringData"`
			Data       map[string]string `yaml:"data"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch doc.Kind {
		case "Secret":
			secrets = doc.StringData
		case "ConfigMap":
			conf = doc.Data["incidenthub.yaml"]
		}
	}
	_, err := config.Parse("configmap", []byte(conf), func(k string) (string, bool) { v, ok := secrets[k]; return v, ok })
	require.ErrorContains(t, err, "webhook_secrets")
}
