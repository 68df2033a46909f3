// Package githubtest is a GitHub test double for the REST calls the hub
// makes, behind a server that validates every request against GitHub's
// OpenAPI description. It keeps state like the real thing: hook deliveries
// and their redeliveries, which it can really send to a hub, and, once
// EnableApp is called, a GitHub App's installation tokens and JWTs.
package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

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

	// Issues of the review repository, by number.
	issues   map[int]*FakeIssue
	comments map[int][]string
	// Faults are consumed in order by the calls they name.
	Faults []Fault
	writes []time.Time
	// Collaborators may be assigned; GitHub answers 422 for anyone else.
	Collaborators []string

	// app, once enabled, makes every call need the App's credentials;
	// tokens are the installation tokens minted, with their expiry.
	app    *App
	tokens map[string]time.Time

	// files are the review repo's files, by path; commits the messages
	// of the commits that wrote them.
	files   map[string]*repoFile
	commits []string
}

// FakeIssue is an issue the double keeps.
type FakeIssue struct {
	Number    int
	Title     string
	Body      string
	Labels    []string
	Assignees []string
}

// Fault makes one call fail. With Effect, the call takes effect first and
// then fails, as when GitHub created the issue but the answer was lost.
type Fault struct {
	Op      string // "create", "edit", "list", "get", "comment", "deliveries" (a hook's), "contents" (a read), "put"
	Status  int    // the status to answer; 0 with Stall
	Headers map[string]string
	Effect  bool
	// Stall delays the answer past the client's timeout, then drops the
	// connection: the answer is lost.
	Stall time.Duration
	// Body replaces the default error body.
	Body string
}

// New starts the double.
func New(t connectortest.TB, opts ...connectortest.Option) *Fake {
	f := &Fake{hooks: map[string][]*Delivery{}, nextID: 1000, PageSize: 100, issues: map[int]*FakeIssue{}, comments: map[int][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues", f.listIssues)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues", f.createIssue)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", f.getIssue)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", f.editIssue)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", f.comment)
	mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", f.listComments)
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
	mux.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", f.getContents)
	mux.HandleFunc("PUT /repos/{owner}/{repo}/contents/{path...}", f.putContents)
	mux.HandleFunc("POST /app/installations/{installation_id}/access_tokens", f.accessToken)
	mux.HandleFunc("GET /app/hook/deliveries", func(w http.ResponseWriter, r *http.Request) { f.list(w, r, AppHook) })
	mux.HandleFunc("POST /app/hook/deliveries/{id}/attempts", func(w http.ResponseWriter, r *http.Request) { f.attempt(w, r, AppHook) })
	authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.authenticated(w, r) {
			mux.ServeHTTP(w, r)
		}
	})
	opts = append([]connectortest.Option{connectortest.RewritePath(contentsPath)}, opts...)
	f.Contract = connectortest.NewContract(t, connectortest.Spec("api.github.com.trimmed.json"), authed, opts...)
	return f
}

// Client returns a go-github client pointed at the double.
func (f *Fake) Client(t connectortest.TB) *gh.Client {
	c, err := github.NewClient(config.GitHub{Token: config.NewSecret("test-token"), BaseURL: f.URL}, nil)
	if err != nil {
		t.Fatalf("%v", err)
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
	if ft, ok := f.fault("deliveries"); ok {
		f.fail(w, ft)
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

// Issues returns the issues the double holds, by number.
func (f *Fake) Issues() map[int]FakeIssue {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]FakeIssue{}
	for n, i := range f.issues {
		out[n] = *i
	}
	return out
}

// Comments returns the comments of an issue.
func (f *Fake) Comments(number int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.comments[number])
}

// Writes returns when each write (create, edit, comment) arrived.
func (f *Fake) Writes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

// fault takes the next fault for op, if it is first in line.
func (f *Fake) fault(op string) (Fault, bool) {
	if len(f.Faults) == 0 || f.Faults[0].Op != op {
		return Fault{}, false
	}
	ft := f.Faults[0]
	f.Faults = f.Faults[1:]
	return ft, true
}

// fail answers a fault; the caller has already applied the effect if any.
func (f *Fake) fail(w http.ResponseWriter, ft Fault) {
	if ft.Stall > 0 {
		time.Sleep(ft.Stall)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range ft.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ft.Status)
	if ft.Body != "" {
		_, _ = io.WriteString(w, ft.Body)
		return
	}
	_, _ = fmt.Fprintf(w, `{"message":"injected %d"}`, ft.Status)
}

type issueJSON struct {
	Number  int         `json:"number"`
	Title   string      `json:"title"`
	Body    string      `json:"body"`
	HTMLURL string      `json:"html_url"`
	State   string      `json:"state"`
	Labels  []labelJSON `json:"labels"`
}

type labelJSON struct {
	Name string `json:"name"`
}

func (f *Fake) issueJSON(i *FakeIssue) issueJSON {
	out := issueJSON{Number: i.Number, Title: i.Title, Body: i.Body, State: "open",
		HTMLURL: fmt.Sprintf("https://github.example/acme/incidents/issues/%d", i.Number)}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, labelJSON{Name: l})
	}
	return out
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) listIssues(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft, ok := f.fault("list"); ok {
		f.fail(w, ft)
		return
	}
	want := r.URL.Query().Get("labels")
	out := []issueJSON{}
	for n := 1; n <= len(f.issues); n++ {
		if i := f.issues[n]; i != nil && (want == "" || slices.Contains(i.Labels, want)) {
			out = append(out, f.issueJSON(i))
		}
	}
	reply(w, http.StatusOK, out)
}

// maxBody is GitHub's limit on an issue or comment body, in characters.
const maxBody = 65536

// tooLong answers as GitHub does to a body over its limit.
func tooLong(w http.ResponseWriter, resource, body string) bool {
	if utf8.RuneCountInString(body) <= maxBody {
		return false
	}
	reply(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
		"errors": []map[string]string{{"resource": resource, "field": "body", "code": "custom",
			"message": "body is too long (maximum is 65536 characters)"}}})
	return true
}

func (f *Fake) createIssue(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title     string   `json:"title"`
		Body      string   `json:"body"`
		Labels    []string `json:"labels"`
		Assignees []string `json:"assignees"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if tooLong(w, "Issue", req.Body) {
		return
	}
	f.mu.Lock()
	for _, a := range req.Assignees {
		if !slices.Contains(f.Collaborators, a) {
			f.mu.Unlock()
			reply(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
				"errors": []map[string]string{{"resource": "Issue", "field": "assignees", "code": "invalid", "value": a}}})
			return
		}
	}
	ft, faulty := f.fault("create")
	var created issueJSON
	if !faulty || ft.Effect {
		f.writes = append(f.writes, time.Now())
		issue := &FakeIssue{Number: len(f.issues) + 1, Title: req.Title, Body: req.Body, Labels: req.Labels, Assignees: req.Assignees}
		f.issues[issue.Number] = issue
		// Answered as created: a person may edit it as soon as the lock
		// is let go.
		created = f.issueJSON(issue)
	}
	f.mu.Unlock()
	if faulty {
		f.fail(w, ft)
		return
	}
	reply(w, http.StatusCreated, created)
}

func (f *Fake) getIssue(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(r.PathValue("number"))
	i := f.issues[n]
	if i == nil {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	reply(w, http.StatusOK, f.issueJSON(i))
}

func (f *Fake) editIssue(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Body != nil && tooLong(w, "Issue", *req.Body) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft, ok := f.fault("edit"); ok {
		f.fail(w, ft)
		return
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	i := f.issues[n]
	if i == nil {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	f.writes = append(f.writes, time.Now())
	if req.Body != nil {
		i.Body = *req.Body
	}
	reply(w, http.StatusOK, f.issueJSON(i))
}

// SetBody changes an issue's body, as a person editing it would.
func (f *Fake) SetBody(number int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issues[number].Body = body
}

func (f *Fake) listComments(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(r.PathValue("number"))
	out := []map[string]any{}
	for k, body := range f.comments[n] {
		out = append(out, map[string]any{"id": k + 1, "body": body})
	}
	reply(w, http.StatusOK, out)
}

func (f *Fake) comment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if tooLong(w, "IssueComment", req.Body) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(r.PathValue("number"))
	ft, faulty := f.fault("comment")
	if !faulty || ft.Effect {
		f.writes = append(f.writes, time.Now())
		f.comments[n] = append(f.comments[n], req.Body)
	}
	if faulty {
		f.fail(w, ft)
		return
	}
	reply(w, http.StatusCreated, map[string]any{"id": len(f.comments[n]), "body": req.Body})
}
