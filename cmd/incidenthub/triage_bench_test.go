package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/incidenthub/incidenthub/connectors/pagerduty"
	"github.com/incidenthub/incidenthub/connectors/pagerduty/pagerdutytest"
)

// BenchmarkTriageNoteLatency measures, through the real binary on the
// configured store, how long a page waits for its triage note: from the
// trigger's delivery to the note at the PagerDuty double, one page per
// iteration (each a new page of one storm, so each gets its note). The
// baseline, from the same run, is how long the delivery waits for its 202:
// what is left is processing, the job and the two PagerDuty calls.
// `make bench-triage` runs 100 pages.
func BenchmarkTriageNoteLatency(b *testing.B) {
	addr := freeAddr(b)
	base := "http://" + addr
	pd := pagerdutytest.New(b)
	path, _ := testConfig(b, addr)
	text, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg := withPagerDutyNotes(string(text), pd.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	startHub(b, path, base)
	started := time.Now().UTC().Add(-time.Minute)
	var acked, noted []time.Duration
	b.ResetTimer()
	for i := range b.N {
		page := fmt.Sprintf("PBENCH%d", i)
		body := payload(b, "pagerduty", "incident.triggered.json", map[string]any{
			"event.id": "bench-" + page, "event.occurred_at": started.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
			"event.data.id": page})
		req, err := http.NewRequest(http.MethodPost, base+pagerduty.Path, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Webhook-Id", "bench-"+page)
		req.Header.Set("X-PagerDuty-Signature", pagerduty.Sign(testSecret, body))
		sent := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("page %d: %s", i, resp.Status)
		}
		acked = append(acked, time.Since(sent))
		for len(pd.Notes(page)) == 0 {
			if time.Since(sent) > 30*time.Second {
				b.Fatalf("page %d: no triage note after 30s", i)
			}
			time.Sleep(time.Millisecond)
		}
		noted = append(noted, time.Since(sent))
	}
	b.StopTimer()
	reportQuantiles(b, "ack", acked)
	reportQuantiles(b, "note", noted)
}

// reportQuantiles adds the p50 and p99 of ds, in milliseconds, to the benchmark's
// line.
func reportQuantiles(b *testing.B, name string, ds []time.Duration) {
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}
