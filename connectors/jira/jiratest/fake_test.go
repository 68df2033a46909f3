package jiratest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jira "github.com/andygrunwald/go-jira"
)

func client(t *testing.T, f *Fake) *jira.Client {
	t.Helper()
	tp := jira.BasicAuthTransport{Username: "hub@example.com", Password: "api-token"}
	c, err := jira.NewClient(tp.Client(), f.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends a raw request with Basic credentials and decodes the answer.
func call(t *testing.T, f *Fake, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("hub@example.com", "api-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func newIssue(project, summary string, labels ...string) *jira.Issue {
	return &jira.Issue{Fields: &jira.IssueFields{
		Project:     jira.Project{Key: project},
		Type:        jira.IssueType{Name: "Incident"},
		Summary:     summary,
		Description: "Checkout is failing.\nSee the hub.",
		Labels:      labels,
		Priority:    &jira.Priority{Name: "High"},
	}}
}

var searchOpts = &jira.SearchOptionsV2{MaxResults: 10, Fields: []string{"summary", "labels", "status"}}

// TestGoJira runs the calls the hub makes through go-jira v1.17.0; the
// contract fails the test if any of them is outside Jira's description.
func TestGoJira(t *testing.T) {
	f := New(t)
	c := client(t, f)
	ctx := context.Background()

	first := newIssue("PAY", "Checkout down", "incidenthub", "ih-42")
	first.Fields.Assignee = &jira.User{AccountID: "5b10a2844c20165700ede21g"}
	created, _, err := c.Issue.CreateWithContext(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "10001" || created.Key != "PAY-1" || created.Self != f.URL+"/rest/api/2/issue/10001" {
		t.Errorf("created %+v", created)
	}
	for _, want := range []string{"OPS-1", "PAY-2"} {
		got, _, err := c.Issue.CreateWithContext(ctx, newIssue(want[:3], "Other", "ih-7"))
		if err != nil || got.Key != want {
			t.Fatalf("created %+v, %v; want %s", got, err, want)
		}
	}
	f.SetStatus("PAY-1", "In Progress", "indeterminate")

	found, _, err := c.Issue.SearchV2JQLWithContext(ctx, `labels = "ih-42" AND project = PAY`, searchOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Key != "PAY-1" || found[0].Fields.Summary != "Checkout down" ||
		!slices.Equal(found[0].Fields.Labels, []string{"incidenthub", "ih-42"}) ||
		found[0].Fields.Status.Name != "In Progress" || found[0].Fields.Status.StatusCategory.Key != "indeterminate" {
		t.Errorf("search found %+v", found)
	}

	link := &jira.RemoteLink{GlobalID: "incidenthub:42", Object: &jira.RemoteLinkObject{URL: "https://hub.example/i/42", Title: "Incident 42"}}
	added, resp, err := c.Issue.AddRemoteLinkWithContext(ctx, "PAY-1", link)
	if err != nil || resp.StatusCode != http.StatusCreated || added.ID == 0 {
		t.Fatalf("add link: %+v, %v", added, err)
	}
	link.Object.Title = "Incident 42 (resolved)"
	again, resp, err := c.Issue.AddRemoteLinkWithContext(ctx, "10001", link)
	if err != nil || resp.StatusCode != http.StatusOK || again.ID != added.ID {
		t.Fatalf("same global id: %+v, %v", again, err)
	}

	got, _, err := c.Issue.GetWithContext(ctx, "PAY-1", nil)
	if err != nil || got.Fields.Description != "Checkout is failing.\nSee the hub." || got.Fields.Priority.Name != "High" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if _, resp, err := c.Issue.GetWithContext(ctx, "PAY-99", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("get PAY-99: %v", err)
	}

	issues := f.Issues()
	want := RemoteLink{ID: added.ID, GlobalID: "incidenthub:42", URL: "https://hub.example/i/42", Title: "Incident 42 (resolved)"}
	if len(issues) != 3 || !slices.Equal(issues[0].RemoteLinks, []RemoteLink{want}) ||
		issues[0].AssigneeAccountID != "5b10a2844c20165700ede21g" || issues[0].Priority != "High" || issues[1].Key != "OPS-1" {
		t.Errorf("issues %+v", issues)
	}
	if f.Creates() != 3 || !slices.Equal(f.Searches(), []string{`labels = "ih-42" AND project = PAY`}) {
		t.Errorf("creates %d, searches %q", f.Creates(), f.Searches())
	}
	if v := f.Violations(); len(v) > 0 {
		t.Errorf("violations: %q", v)
	}
}

func TestCreateRefusals(t *testing.T) {
	f := New(t)
	for _, tc := range []struct {
		name, body, field, msg string
	}{
		{"unknown project", `{"fields":{"project":{"key":"NOPE"},"issuetype":{"name":"Bug"},"summary":"s"}}`, "project", "valid project is required"},
		{"unknown priority", `{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"},"summary":"s","priority":{"name":"Urgent"}}}`, "priority", "Priority name 'Urgent' is not valid"},
		{"no summary", `{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"}}}`, "summary", "You must specify a summary of the issue."},
		{"ADF description", `{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"},"summary":"s","description":{"type":"doc","version":1,"content":[]}}}`, "description", "Operation value must be a string"},
		{"label with a space", `{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"},"summary":"s","labels":["a b"]}}`, "labels", "The label 'a b' is invalid"},
		{"unknown field", `{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"},"summary":"s","label":["a"]}}`, "label", "Field 'label' cannot be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, f, http.MethodPost, "/rest/api/2/issue", tc.body)
			errs, _ := body["errors"].(map[string]any)
			if msg, _ := errs[tc.field].(string); status != http.StatusBadRequest || !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("got %d %v; want 400 with errors.%s %q", status, body, tc.field, tc.msg)
			}
		})
	}
	if n := len(f.Issues()); n != 0 || f.Creates() != 0 {
		t.Errorf("%d issues, %d creates after refusals", n, f.Creates())
	}
}

func TestAuthentication(t *testing.T) {
	f := New(t)
	f.Email, f.APIToken = "hub@example.com", "api-token"
	for name, set := range map[string]func(*http.Request){
		"none":        func(*http.Request) {},
		"bearer":      func(r *http.Request) { r.Header.Set("Authorization", "Bearer api-token") },
		"wrong token": func(r *http.Request) { r.SetBasicAuth("hub@example.com", "other") },
	} {
		req, _ := http.NewRequest(http.MethodGet, f.URL+"/rest/api/2/issue/PAY-1", nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body errorBody
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || len(body.ErrorMessages) != 1 {
			t.Errorf("%s: %d %+v; want 401 with a Jira error", name, resp.StatusCode, body)
		}
	}
	if status, _ := call(t, f, http.MethodGet, "/rest/api/2/issue/PAY-1", ""); status != http.StatusNotFound {
		t.Errorf("with the right credentials: %d, want 404", status)
	}
}

func TestSearchLag(t *testing.T) {
	f := New(t)
	f.SearchLag = time.Hour
	c := client(t, f)
	ctx := context.Background()
	fresh, _, err := c.Issue.CreateWithContext(ctx, newIssue("PAY", "Fresh", "ih-1"))
	if err != nil {
		t.Fatal(err)
	}
	old := f.AddIssue(Issue{Project: "PAY", IssueType: "Incident", Summary: "Filed by hand", Labels: []string{"ih-1"},
		Created: time.Now().Add(-2 * time.Hour)})
	if old.Key != "PAY-2" || old.ID != "10002" || old.Status != "To Do" || old.StatusCategory != "new" {
		t.Errorf("added %+v", old)
	}
	found, _, err := c.Issue.SearchV2JQLWithContext(ctx, `labels = "ih-1"`, searchOpts)
	if err != nil || len(found) != 1 || found[0].Key != "PAY-2" {
		t.Errorf("search during the lag found %+v, %v; want PAY-2 only", found, err)
	}
	// Reading by key does not go through the index.
	if got, _, err := c.Issue.GetWithContext(ctx, fresh.Key, nil); err != nil || got.Fields.Summary != "Fresh" {
		t.Errorf("get %s: %+v, %v", fresh.Key, got, err)
	}
}

func TestSearchPages(t *testing.T) {
	f := New(t)
	for range 3 {
		f.AddIssue(Issue{Project: "OPS", IssueType: "Task", Summary: "s"})
	}
	var keys []string
	token := ""
	for range 3 {
		status, body := call(t, f, http.MethodGet, "/rest/api/2/search/jql?jql=project+%3D+OPS&maxResults=2&fields=summary&nextPageToken="+token, "")
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
		for _, i := range body["issues"].([]any) {
			keys = append(keys, i.(map[string]any)["key"].(string))
		}
		if body["isLast"] == true {
			break
		}
		token = body["nextPageToken"].(string)
	}
	if !slices.Equal(keys, []string{"OPS-1", "OPS-2", "OPS-3"}) {
		t.Errorf("pages gave %q", keys)
	}
	// Without fields, the enhanced search gives ids only.
	_, body := call(t, f, http.MethodGet, "/rest/api/2/search/jql?jql=project+%3D+OPS", "")
	if first := body["issues"].([]any)[0].(map[string]any); len(first) != 1 || first["id"] != "10001" {
		t.Errorf("default fields gave %v", first)
	}
}

// TestJQLQuoting checks that a quoted value is data however hostile, and
// that a value spliced in unquoted fails rather than widening the query.
func TestJQLQuoting(t *testing.T) {
	f := New(t)
	for _, l := range []string{"a", "b", `we"ird\label`} {
		f.AddIssue(Issue{Project: "PAY", IssueType: "Task", Summary: l, Labels: []string{l}})
	}
	c := client(t, f)
	ctx := context.Background()
	for jql, want := range map[string][]string{
		`labels = "a\" OR labels = \"b"`: nil,
		`labels = "we\"ird\\label"`:      {"PAY-3"},
		`labels = 'we"ird\\label'`:       {"PAY-3"},
		`LABELS = a and Project = "pay"`: {"PAY-1"},
	} {
		found, _, err := c.Issue.SearchV2JQLWithContext(ctx, jql, searchOpts)
		var keys []string
		for _, i := range found {
			keys = append(keys, i.Key)
		}
		if err != nil || !slices.Equal(keys, want) {
			t.Errorf("%s: found %q, %v; want %q", jql, keys, err, want)
		}
	}
	for _, jql := range []string{
		`labels = "a" OR labels = "b"`,
		`labels = a" OR labels = "b`,
		`labels = "a`,
		`project = NOPE`,
		``,
	} {
		_, resp, err := c.Issue.SearchV2JQLWithContext(ctx, jql, searchOpts)
		if err == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v; want 400", jql, err)
		}
	}
}

func TestParseJQL(t *testing.T) {
	for jql, want := range map[string][]clause{
		`labels = x`:                        {{"labels", "x"}},
		`labels="ih-1" AND project=PAY`:     {{"labels", "ih-1"}, {"project", "PAY"}},
		`labels = "tab\there \u0041 \' \ "`: {{"labels", "tab\there A '  "}},
		`labels = ""`:                       {{"labels", ""}},
	} {
		if got, err := parseJQL(jql); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q, %v; want %q", jql, got, err, want)
		}
	}
	for _, jql := range []string{
		`labels = and`, `labels = "x" and`, `labels != x`, `labels in (a, b)`, `labels ~ x`, `status = Done`,
		`labels = x y`, `labels = x.y`, `labels = "x\q"`, `labels = "x\`, `labels =`, `(labels = x)`,
		`labels = x ORDER BY created`, `labels == x`,
	} {
		if got, err := parseJQL(jql); err == nil || !strings.HasPrefix(err.Error(), "Error in the JQL Query: ") {
			t.Errorf("%s: %q, %v; want a JQL error", jql, got, err)
		}
	}
}

func TestFaults(t *testing.T) {
	f := New(t)
	f.Faults = []Fault{
		{Op: "create", Status: http.StatusServiceUnavailable, Effect: true},
		{Op: "search", Status: http.StatusTooManyRequests, Headers: map[string]string{"Retry-After": "7"}},
		{Op: "create", Stall: 50 * time.Millisecond, Effect: true},
		{Op: "remotelink", Status: http.StatusInternalServerError, Body: `{"errorMessages":["boom"],"errors":{}}`},
	}
	c := client(t, f)
	ctx := context.Background()

	if _, resp, err := c.Issue.CreateWithContext(ctx, newIssue("PAY", "s")); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("create: %v; want 503", err)
	}
	_, resp, err := c.Issue.SearchV2JQLWithContext(ctx, "project = PAY", searchOpts)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("search: %v; want 429 with Retry-After", err)
	}
	if _, _, err := c.Issue.CreateWithContext(ctx, newIssue("PAY", "s")); err == nil {
		t.Error("stalled create answered")
	}
	_, resp, err = c.Issue.AddRemoteLinkWithContext(ctx, "PAY-1", &jira.RemoteLink{Object: &jira.RemoteLinkObject{URL: "u", Title: "t"}})
	var body []byte
	if resp != nil {
		body, _ = io.ReadAll(resp.Body)
	}
	if err == nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body)+err.Error(), "boom") {
		t.Errorf("remote link: %v %s; want 500 boom", err, body)
	}
	if f.Creates() != 2 || len(f.Issues()) != 2 || len(f.Issues()[0].RemoteLinks) != 0 {
		t.Errorf("creates %d, issues %+v; want both faulted creates applied, no link", f.Creates(), f.Issues())
	}
	if found, _, err := c.Issue.SearchV2JQLWithContext(ctx, "project = PAY", searchOpts); err != nil || len(found) != 2 {
		t.Errorf("search after the faults: %d, %v", len(found), err)
	}
}

// recorder stands in for a testing.T to see what the contract reports.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper()           {}
func (r *recorder) Cleanup(fn func()) { r.cleanups = append(r.cleanups, fn) }
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

func TestViolations(t *testing.T) {
	rec := &recorder{TB: t}
	f := New(rec)
	for _, body := range []string{
		`{"fields":"x"}`,
		`{"fields":{"project":{"key":"PAY"},"issuetype":{"name":"Bug"},"summary":"s"},"update":{"labels":"x"}}`,
	} {
		if status, _ := call(t, f, http.MethodPost, "/rest/api/2/issue", body); status != http.StatusBadRequest {
			t.Errorf("%s: %d; want 400", body, status)
		}
	}
	if status, _ := call(t, f, http.MethodGet, "/rest/api/2/search/jql?jql=project+%3D+PAY&maxResults=ten", ""); status != http.StatusBadRequest {
		t.Errorf("maxResults=ten: %d; want 400", status)
	}
	if status, _ := call(t, f, http.MethodPost, "/rest/api/2/issue/PAY-1/remotelink", `{"globalId":"g"}`); status != http.StatusBadRequest {
		t.Errorf("remote link without object: %d; want 400", status)
	}
	if v := f.Violations(); len(v) != 4 || !strings.Contains(v[0], "POST /rest/api/2/issue") {
		t.Errorf("violations %q", v)
	}
	if f.Creates() != 0 {
		t.Errorf("a refused request reached the double")
	}
	for _, fn := range slices.Backward(rec.cleanups) {
		fn()
	}
	if len(rec.errs) != 4 {
		t.Errorf("the contract reported %q", rec.errs)
	}
}
