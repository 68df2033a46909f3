package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/internal/httpserver"
	"github.com/incidenthub/incidenthub/internal/store/storetest"
)

// BenchmarkIntake measures durable intake through HTTP, signed PagerDuty
// deliveries sent by 32 concurrent clients, side by side with the ceiling
// of this machine: a no-op handler that reads the body and answers 202
// over the same loopback HTTP. Each hub verifies, stores (group commit)
// and answers, while its processor decides what it stored. It reports
// deliveries/s and the 99th percentile latency; divide by the no-op's
// figures for the ratios.
func BenchmarkIntake(b *testing.B) {
	body, err := os.ReadFile(sample(b, "incident.triggered.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("noop", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		})}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		benchmarkIntake(b, []string{"http://" + ln.Addr().String()}, body)
	})
	for _, tc := range []struct {
		name     string
		driver   string
		replicas int
	}{
		{"sqlite", config.DriverSQLite, 1},
		{"postgres", config.DriverPostgres, 1},
		{"postgres-3-replicas", config.DriverPostgres, 3},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.driver == config.DriverPostgres && os.Getenv(storetest.PostgresDSNVar) == "" {
				b.Skip(storetest.PostgresDSNVar + " is not set")
			}
			storage := storetest.Storage(b, tc.driver)
			storage.Synchronous = "full"
			var bases []string
			for range tc.replicas {
				bases = append(bases, startBenchHub(b, storage))
			}
			benchmarkIntake(b, bases, body)
		})
	}
}

// startBenchHub runs a hub in this process and returns its URL.
func startBenchHub(b *testing.B, storage config.Storage) string {
	b.Helper()
	cfg := config.Default()
	cfg.Listen, cfg.Storage = "127.0.0.1:0", storage
	cfg.PagerDuty.WebhookSecrets = config.Secrets(testSecret)
	cfg.Severities = []config.Severity{{Name: "SEV2", PagerDutyPriorities: []string{"P2"}, Urgency: "high", Review: "none"}}
	cfg.Services = []config.Service{{Name: "payments", PagerDutyServiceIDs: []string{"PA2P440"}}}
	var srv *httpserver.Server
	app := fx.New(appOptions(&cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Stop(ctx)
	})
	return "http://" + srv.Addr().String()
}

func benchmarkIntake(b *testing.B, bases []string, body []byte) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	signature := pagerduty.Sign(testSecret, body)
	var (
		n         atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.SetParallelism(16) // 32 clients on 2 cores
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := n.Add(1)
			req, err := http.NewRequest(http.MethodPost, bases[int(i)%len(bases)]+pagerduty.Path, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(pagerduty.WebhookIDHeader, fmt.Sprintf("bench-%d", i))
			req.Header.Set(pagerduty.SignatureHeader, signature)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
}
