// Package githubtest is a GitHub test double for the REST calls the hub
// makes, behind a server that validates every request against GitHub's
// OpenAPI description. It keeps state like the real thing: hook deliveries
// and their redeliveries, which it can really send to a hub.
package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/connectors/connectortest"
	"github.com/incidenthub/incidenthub/connectors/github"
)

// Delivery is one attempt GitHub made to deliver a hook event.
type Delivery struct {
	ID          int64
	GUID        string
	Event       string
	DeliveredAt time.Time
	StatusCode  int
	Redelivery  bool
	// Body is the payload, sent again on redelivery.
	Body []byte
}

// Fake is the double. Its zero value is not usable: call New.
type Fake struct {
	*connectortest.Contract

	mu sync.Mutex
	// hooks maps "repos/<owner>/<repo>/<id>" or "orgs/<org>/<id>" to its
	// deliveries, oldest first.
	hooks  map[string][]*Delivery
	nextID int64
	// Target and Secret make redeliveries real: POSTed, signed, to Target.
	Target, Secret string
	// PageSize is how many deliveries a list page holds (GitHub: per_page).
	PageSize int
	// RateLimited makes every call fail with GitHub's primary rate limit.
	RateLimited bool
	// RedeliveryStatus is the recorded status of a redelivery when there
	// is no Target (default 200).
	RedeliveryStatus int
	redelivered      []string
}

// New starts the double.
func New(t testing.TB) *Fake {
	f := &Fake{hooks: map[string][]*Delivery{}, nextID: 1000, PageSize: 100}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/hooks/{hook}/deliveries", func(w http.ResponseWriter, r *http.Request) {
		f.list(w, r, "repos/"+r.PathValue("owner")+"/"+r.PathValue("repo")+"/"+r.PathValue("hook"))
	})
	mux.HandleFunc("POST /repos/{owner}/{repo}/hooks/{hook}/deliveries/{id}/attempts", func(w http.ResponseWriter, r *http.Request) {
		f.attempt(w, r, "repos/"+r.PathValue("owner")+"/"+r.PathValue("repo")+"/"+r.PathValue("hook"))
	})
	mux.HandleFunc("GET /orgs/{org}/hooks/{hook}/deliveries", func(w http.ResponseWriter, r *http.Request) {
		f.list(w, r, "orgs/"+r.PathValue("org")+"/"+r.PathValue("hook"))
	})
	mux.HandleFunc("POST /orgs/{org}/hooks/{hook}/deliveries/{id}/attempts", func(w http.ResponseWriter, r *http.Request) {
		f.attempt(w, r, "orgs/"+r.PathValue("org")+"/"+r.PathValue("hook"))
	})
	f.Contract = connectortest.NewContract(t, connectortest.Spec("api.github.com.trimmed.json"), mux)
	return f
}

// Client returns a go-github client pointed at the double.
func (f *Fake) Client(t testing.TB) *gh.Client {
	c, err := github.NewClient(config.GitHub{Token: "test-token", BaseURL: f.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RepoHook and OrgHook name a hook's delivery list.
func RepoHook(repo string, id int64) string { return fmt.Sprintf("repos/%s/%d", repo, id) }

// OrgHook names an organisation hook.
func OrgHook(org string, id int64) string { return fmt.Sprintf("orgs/%s/%d", org, id) }

// Add records a delivery attempt of a hook and returns its id.
func (f *Fake) Add(hook string, d Delivery) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	d.ID = f.nextID
	f.hooks[hook] = append(f.hooks[hook], &d)
	return d.ID
}

// Redelivered returns the GUIDs the hub asked to redeliver, in order.
func (f *Fake) Redelivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.redelivered)
}

type item struct {
	ID          int64   `json:"id"`
	GUID        string  `json:"guid"`
	DeliveredAt string  `json:"delivered_at"`
	Redelivery  bool    `json:"redelivery"`
	Duration    float64 `json:"duration"`
	Status      string  `json:"status"`
	StatusCode  int     `json:"status_code"`
	Event       string  `json:"event"`
	Action      *string `json:"action"`
	// GitHub's schema requires these; null for a repository hook.
	InstallationID *int64 `json:"installation_id"`
	RepositoryID   *int64 `json:"repository_id"`
}

func (f *Fake) limited(w http.ResponseWriter) bool {
	if !f.RateLimited {
		return false
	}
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}`))
	return true
}

// list answers newest first, paginated by cursor as GitHub does.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, hook string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limited(w) {
		return
	}
	// Newest first, as GitHub lists them.
	all := slices.Clone(f.hooks[hook])
	slices.SortStableFunc(all, func(a, b *Delivery) int { return b.DeliveredAt.Compare(a.DeliveredAt) })
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	size := f.PageSize
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n < size {
		size = n
	}
	end := min(start+size, len(all))
	page := []item{}
	for _, d := range all[min(start, end):end] {
		page = append(page, item{
			ID: d.ID, GUID: d.GUID, DeliveredAt: d.DeliveredAt.UTC().Format(time.RFC3339), Redelivery: d.Redelivery,
			Duration: 0.1, Status: http.StatusText(d.StatusCode), StatusCode: d.StatusCode, Event: d.Event,
		})
	}
	if end < len(all) {
		next := *r.URL
		q := next.Query()
		q.Set("cursor", strconv.Itoa(end))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, f.URL, next.RequestURI()))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// attempt redelivers: a new attempt with the same GUID, sent for real when
// a Target is set. GitHub answers 202 Accepted.
func (f *Fake) attempt(w http.ResponseWriter, r *http.Request, hook string) {
	f.mu.Lock()
	if f.limited(w) {
		f.mu.Unlock()
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var orig *Delivery
	for _, d := range f.hooks[hook] {
		if d.ID == id {
			orig = d
		}
	}
	if orig == nil {
		f.mu.Unlock()
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	f.redelivered = append(f.redelivered, orig.GUID)
	again := *orig
	target, secret := f.Target, f.Secret
	f.mu.Unlock()

	again.Redelivery, again.DeliveredAt, again.StatusCode = true, time.Now(), f.RedeliveryStatus
	if again.StatusCode == 0 {
		again.StatusCode = http.StatusOK
	}
	if target != "" {
		again.StatusCode = send(target, secret, &again)
	}
	f.Add(hook, again)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{}`))
}

// send delivers as GitHub would and returns the hub's status code.
func send(target, secret string, d *Delivery) int {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/test")
	req.Header.Set(github.EventHeader, d.Event)
	req.Header.Set(github.DeliveryHeader, d.GUID)
	req.Header.Set(github.SignatureHeader, github.Sign(secret, d.Body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
