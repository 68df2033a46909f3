// Package jiratest is a Jira Cloud test double for the REST calls the hub
// makes through go-jira, behind a server that validates every request
// against Atlassian's OpenAPI description of the Jira Cloud platform REST
// API (testdata/specs/jira.swagger-v3.trimmed.json).
//
// That description has REST v3 paths only, while go-jira calls /rest/api/2.
// Jira Cloud serves the same operations under both; only rich-text fields
// differ (a plain string in v2, an ADF document in v3). So each request is
// validated as its /rest/api/3 counterpart, and since the v3 schemas leave
// rich-text fields open, the double itself checks that a description is a
// string.
//
// It keeps state like the real thing: issue keys numbered per project,
// remote links updated in place by global id, and a search index that
// sees a new issue only SearchLag after it was created.
//
// With Flavor "datacenter" it answers as Jira Data Center (and Server)
// does where that differs: a personal access token as a Bearer token,
// users named by username, /search where Cloud has /search/jql, and
// create metadata listed under "values". Atlassian publishes no OpenAPI
// description of Data Center, so its requests are validated against the
// Cloud description, which shares these operations' requests.
package jiratest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/incidenthub/incidenthub/connectors/connectortest"
)

// Issue is an issue the double keeps.
type Issue struct {
	ID                string
	Key               string
	Project           string // the project key
	IssueType         string
	Summary           string
	Description       string
	Labels            []string
	Priority          string
	AssigneeAccountID string
	// AssigneeName is the assignee's username, on Data Center.
	AssigneeName string
	Status       string // default "To Do"
	// StatusCategory is the status category key: "new" (the default),
	// "indeterminate" or "done".
	StatusCategory string
	RemoteLinks    []RemoteLink
	Created        time.Time
	// Fields are the values of the project's own fields (Fake.Fields),
	// as sent.
	Fields map[string]json.RawMessage
}

// Field is a field on a project's create screen beyond those every
// project has (summary, description, labels, priority, assignee): a
// custom field, or components.
type Field struct {
	ID       string // "customfield_10042", "components"
	Name     string
	Required bool
}

// RemoteLink is a link from an issue to an item in another system.
type RemoteLink struct {
	ID       int
	GlobalID string
	URL      string
	Title    string
}

// Fault makes one call fail. With Effect, the call takes effect first and
// then fails, as when Jira created the issue but the answer was lost.
type Fault struct {
	Op      string // "create", "search", "remotelink", "get", "createmeta"
	Status  int    // the status to answer; 0 with Stall
	Headers map[string]string
	Effect  bool
	// Stall delays the answer past the client's timeout, then drops the
	// connection: the answer is lost.
	Stall time.Duration
	// Body replaces the default error body.
	Body string
}

// Fake is the double; its URL (from the embedded contract server) is what
// the hub's jira.base_url is set to. Its zero value is not usable: call
// New. Set the exported fields before the hub makes its calls.
type Fake struct {
	*connectortest.Contract

	// Projects are the keys of the projects that exist.
	Projects []string
	// Priorities are the priority names that exist.
	Priorities []string
	// IssueTypes are the issue type names every project has.
	IssueTypes []string
	// Fields are each project's own fields, by project key: a required
	// one missing from a create is refused, as Jira refuses it.
	Fields map[string][]Field
	// Flavor is "cloud" (the default) or "datacenter".
	Flavor string
	// Email and APIToken, when set, are the only Basic credentials
	// accepted on Cloud; otherwise any non-empty pair is. On Data Center
	// APIToken is the personal access token, sent as a Bearer token.
	Email, APIToken string
	// SearchLag is how long a new issue stays invisible to search: Jira's
	// index is eventually consistent, so a search right after a create can
	// miss the issue. Getting the issue by key finds it at once.
	SearchLag time.Duration
	// Faults are consumed in order by the calls they name.
	Faults []Fault

	mu       sync.Mutex
	issues   []*Issue
	numbers  map[string]int // the last issue number used, per project
	lastID   int
	lastLink int
	creates  int
	searches []string
}

// New starts the double, with projects PAY and OPS and Jira's default
// priorities.
func New(t connectortest.TB, opts ...connectortest.Option) *Fake {
	f := &Fake{
		Projects:   []string{"PAY", "OPS"},
		Priorities: []string{"Highest", "High", "Medium", "Low", "Lowest"},
		IssueTypes: []string{"Task", "Bug", "Story"},
		Fields:     map[string][]Field{},
		numbers:    map[string]int{},
		lastID:     10000,
		lastLink:   10000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rest/api/2/issue", f.serve("create", f.create))
	mux.HandleFunc("GET /rest/api/2/issue/{issueIdOrKey}", f.serve("get", f.get))
	mux.HandleFunc("POST /rest/api/2/issue/{issueIdOrKey}/remotelink", f.serve("remotelink", f.remoteLink))
	mux.HandleFunc("GET /rest/api/2/search/jql", f.serve("search", f.search))
	mux.HandleFunc("GET /rest/api/2/search", f.serve("search", f.search))
	mux.HandleFunc("GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes", f.serve("createmeta", f.issueTypes))
	mux.HandleFunc("GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}", f.serve("createmeta", f.createFields))
	f.Contract = connectortest.NewContract(t, connectortest.Spec("jira.swagger-v3.trimmed.json"), mux,
		append([]connectortest.Option{connectortest.RewritePath(v2ToV3)}, opts...)...)
	return f
}

// v2ToV3 maps a go-jira path to the v3 path the description has.
func v2ToV3(path string) string {
	if rest, ok := strings.CutPrefix(path, "/rest/api/2/"); ok {
		return "/rest/api/3/" + rest
	}
	return path
}

// AddIssue files an issue as a person would, bypassing the API; it gets
// the next id and key of its project. A zero Created means now.
func (f *Fake) AddIssue(i Issue) Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i.Created.IsZero() {
		i.Created = time.Now()
	}
	return clone(f.add(&i))
}

// add numbers an issue, fills in the defaults and keeps it.
func (f *Fake) add(i *Issue) *Issue {
	f.lastID++
	f.numbers[i.Project]++
	i.ID = strconv.Itoa(f.lastID)
	i.Key = fmt.Sprintf("%s-%d", i.Project, f.numbers[i.Project])
	if i.Status == "" {
		i.Status = "To Do"
	}
	if i.StatusCategory == "" {
		i.StatusCategory = "new"
	}
	i.Labels = slices.Clone(i.Labels)
	i.RemoteLinks = slices.Clone(i.RemoteLinks)
	i.Fields = maps.Clone(i.Fields)
	f.issues = append(f.issues, i)
	return i
}

// SetStatus moves an issue to a status, as a workflow transition would.
// categoryKey is "new", "indeterminate" or "done".
func (f *Fake) SetStatus(key, name, categoryKey string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(key)
	if i == nil {
		panic("jiratest: no issue " + key)
	}
	i.Status, i.StatusCategory = name, categoryKey
}

// Issues returns the issues the double holds, in the order they were
// created.
func (f *Fake) Issues() []Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Issue, 0, len(f.issues))
	for _, i := range f.issues {
		out = append(out, clone(i))
	}
	return out
}

// Creates returns how many issues the API created, counting those whose
// answer a fault lost.
func (f *Fake) Creates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates
}

// Searches returns the JQL of each authenticated search received, in
// order, including searches answered with a fault or a JQL error.
func (f *Fake) Searches() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.searches)
}

func clone(i *Issue) Issue {
	c := *i
	c.Labels = slices.Clone(i.Labels)
	c.RemoteLinks = slices.Clone(i.RemoteLinks)
	c.Fields = maps.Clone(i.Fields)
	return c
}

// find returns the issue with an id or key; Jira accepts keys in any case.
func (f *Fake) find(idOrKey string) *Issue {
	for _, i := range f.issues {
		if i.ID == idOrKey || strings.EqualFold(i.Key, idOrKey) {
			return i
		}
	}
	return nil
}

// op carries out a call under f.mu and returns its status and JSON answer.
type op func(r *http.Request, body []byte) (int, any)

// serve authenticates, applies the next fault for name, and answers.
func (f *Fake) serve(name string, do op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Jira allows anonymous access, so the description does too: the
		// credentials are checked here.
		if !f.authenticated(r) {
			reply(w, http.StatusUnauthorized, jiraError("Client must be authenticated to access this resource."))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			reply(w, http.StatusBadRequest, jiraError("Can not read the request: "+err.Error()))
			return
		}
		f.mu.Lock()
		if name == "search" {
			f.searches = append(f.searches, r.URL.Query().Get("jql"))
		}
		ft, faulty := f.fault(name)
		var status int
		var answer any
		if !faulty || ft.Effect {
			status, answer = do(r, body)
		}
		f.mu.Unlock()
		if faulty {
			fail(w, ft)
			return
		}
		reply(w, status, answer)
	}
}

func (f *Fake) authenticated(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dataCenter() {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && token != "" && (f.APIToken == "" || token == f.APIToken)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return false
	}
	return (f.Email == "" || user == f.Email) && (f.APIToken == "" || pass == f.APIToken)
}

func (f *Fake) dataCenter() bool { return f.Flavor == "datacenter" }

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
func fail(w http.ResponseWriter, ft Fault) {
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
	if ft.Body != "" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(ft.Status)
		_, _ = io.WriteString(w, ft.Body)
		return
	}
	reply(w, ft.Status, jiraError(fmt.Sprintf("injected %d", ft.Status)))
}

// errorBody is Jira's error collection: messages, and errors by field.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

func jiraError(msg string) errorBody {
	return errorBody{ErrorMessages: []string{msg}, Errors: map[string]string{}}
}

func fieldErrors(errs map[string]string) errorBody {
	return errorBody{ErrorMessages: []string{}, Errors: errs}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) create(_ *http.Request, body []byte) (int, any) {
	var req struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, jiraError("Can not deserialize the request: " + err.Error())
	}
	i, errs := f.parseFields(req.Fields)
	if len(errs) > 0 {
		return http.StatusBadRequest, fieldErrors(errs)
	}
	i.Created = time.Now()
	f.add(i)
	f.creates++
	return http.StatusCreated, map[string]string{"id": i.ID, "key": i.Key, "self": f.self(i)}
}

// parseFields reads the fields of a v2 create request and collects, by
// field, what Jira would refuse.
func (f *Fake) parseFields(fields map[string]json.RawMessage) (*Issue, map[string]string) {
	i := &Issue{}
	errs := map[string]string{}
	var own []string // fields not every project has
	// named decodes a {"<key>": "..."} reference such as {"name": "High"}.
	named := func(raw json.RawMessage, key string) string {
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil {
			return ""
		}
		s, _ := v[key].(string)
		return s
	}
	for name, raw := range fields {
		switch name {
		case "project":
			i.Project = named(raw, "key")
		case "issuetype":
			if i.IssueType = named(raw, "name"); i.IssueType == "" {
				errs[name] = "Specify an issue type"
			}
		case "summary", "description":
			var s *string
			if json.Unmarshal(raw, &s) != nil {
				// v2 takes plain text; an ADF document is refused.
				errs[name] = "Operation value must be a string"
			} else if s != nil && name == "summary" {
				i.Summary = *s
			} else if s != nil {
				i.Description = *s
			}
		case "labels":
			if json.Unmarshal(raw, &i.Labels) != nil {
				errs[name] = "data was not an array"
			}
			for _, l := range i.Labels {
				if l == "" || strings.ContainsAny(l, " \t\r\n") || len(l) > 255 {
					errs[name] = fmt.Sprintf("The label '%s' is invalid: labels cannot contain spaces, be empty or exceed 255 characters.", l)
				}
			}
		case "priority":
			if i.Priority = named(raw, "name"); !slices.Contains(f.Priorities, i.Priority) {
				errs[name] = fmt.Sprintf("Priority name '%s' is not valid", i.Priority)
			}
		case "assignee":
			switch {
			case string(raw) == "null":
			case f.dataCenter():
				if i.AssigneeName = named(raw, "name"); i.AssigneeName == "" {
					errs[name] = "Specify a valid value for assignee"
				}
			default:
				if i.AssigneeAccountID = named(raw, "accountId"); i.AssigneeAccountID == "" {
					errs[name] = "Specify a valid value for assignee"
				}
			}
		default:
			own = append(own, name)
		}
	}
	if !slices.Contains(f.Projects, i.Project) {
		errs["project"] = "valid project is required"
	}
	// The project's own fields, once the project is known.
	screen := map[string]Field{}
	for _, fd := range f.Fields[i.Project] {
		screen[fd.ID] = fd
	}
	for _, name := range own {
		if _, ok := screen[name]; !ok {
			errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
			continue
		}
		if i.Fields == nil {
			i.Fields = map[string]json.RawMessage{}
		}
		i.Fields[name] = fields[name]
	}
	for _, fd := range f.Fields[i.Project] {
		if v := strings.TrimSpace(string(i.Fields[fd.ID])); fd.Required && (v == "" || v == "null" || v == `""` || v == "[]") {
			errs[fd.ID] = fd.Name + " is required."
		}
	}
	if _, ok := fields["issuetype"]; !ok {
		errs["issuetype"] = "Specify an issue type"
	}
	if strings.TrimSpace(i.Summary) == "" && errs["summary"] == "" {
		errs["summary"] = "You must specify a summary of the issue."
	}
	return i, errs
}

func (f *Fake) self(i *Issue) string { return f.URL + "/rest/api/2/issue/" + i.ID }

var notFound = jiraError("Issue does not exist or you do not have permission to see it.")

func (f *Fake) get(r *http.Request, _ []byte) (int, any) {
	i := f.find(r.PathValue("issueIdOrKey"))
	if i == nil {
		return http.StatusNotFound, notFound
	}
	return http.StatusOK, f.issueJSON(i, fieldList(r, "*all"))
}

func (f *Fake) remoteLink(r *http.Request, body []byte) (int, any) {
	var req struct {
		GlobalID string `json:"globalId"`
		Object   *struct {
			URL   string `json:"url"`
			Title string `json:"title"`
		} `json:"object"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, jiraError("Can not deserialize the request: " + err.Error())
	}
	i := f.find(r.PathValue("issueIdOrKey"))
	if i == nil {
		return http.StatusNotFound, notFound
	}
	if req.Object == nil || req.Object.URL == "" || req.Object.Title == "" {
		return http.StatusBadRequest, fieldErrors(map[string]string{"object": "The remote object needs a url and a title."})
	}
	answer := func(l RemoteLink) map[string]any {
		return map[string]any{"id": l.ID, "self": fmt.Sprintf("%s/rest/api/2/issue/%s/remotelink/%d", f.URL, i.Key, l.ID)}
	}
	// A link with the same global id is updated, not added again.
	for k, l := range i.RemoteLinks {
		if req.GlobalID != "" && l.GlobalID == req.GlobalID {
			i.RemoteLinks[k].URL, i.RemoteLinks[k].Title = req.Object.URL, req.Object.Title
			return http.StatusOK, answer(i.RemoteLinks[k])
		}
	}
	f.lastLink++
	l := RemoteLink{ID: f.lastLink, GlobalID: req.GlobalID, URL: req.Object.URL, Title: req.Object.Title}
	i.RemoteLinks = append(i.RemoteLinks, l)
	return http.StatusCreated, answer(l)
}

// issueTypeID numbers the issue types as Jira does, from 10001.
func (f *Fake) issueTypeID(name string) string {
	return strconv.Itoa(10001 + slices.Index(f.IssueTypes, name))
}

// issueTypes answers GET .../createmeta/{project}/issuetypes: the issue
// types a ticket of the project can have.
func (f *Fake) issueTypes(r *http.Request, _ []byte) (int, any) {
	if _, ok := f.project(r.PathValue("projectIdOrKey")); !ok {
		return http.StatusNotFound, jiraError("No project could be found with key '" + r.PathValue("projectIdOrKey") + "'.")
	}
	var types []map[string]any
	for _, name := range f.IssueTypes {
		types = append(types, map[string]any{"id": f.issueTypeID(name), "name": name, "subtask": false,
			"self": f.URL + "/rest/api/2/issuetype/" + f.issueTypeID(name)})
	}
	return http.StatusOK, page(r, f.listed("issueTypes"), types)
}

// createFields answers GET .../createmeta/{project}/issuetypes/{id}: the
// fields of the create screen, and which are required. Reporter is
// required and has a default, as on Jira Cloud.
func (f *Fake) createFields(r *http.Request, _ []byte) (int, any) {
	project, ok := f.project(r.PathValue("projectIdOrKey"))
	id := r.PathValue("issueTypeId")
	if !ok || !slices.ContainsFunc(f.IssueTypes, func(n string) bool { return f.issueTypeID(n) == id }) {
		return http.StatusNotFound, jiraError("Issue type with id '" + id + "' not found in project.")
	}
	field := func(id, name string, required, hasDefault bool, schema string) map[string]any {
		return map[string]any{"fieldId": id, "key": id, "name": name, "required": required, "hasDefaultValue": hasDefault,
			"operations": []string{"set"}, "schema": map[string]string{"type": schema}}
	}
	fields := []map[string]any{
		field("summary", "Summary", true, false, "string"),
		field("issuetype", "Issue Type", true, false, "issuetype"),
		field("project", "Project", true, false, "project"),
		field("reporter", "Reporter", true, true, "user"),
		field("description", "Description", false, false, "string"),
		field("labels", "Labels", false, false, "array"),
		field("priority", "Priority", false, true, "priority"),
		field("assignee", "Assignee", false, false, "user"),
	}
	for _, fd := range f.Fields[project] {
		fields = append(fields, field(fd.ID, fd.Name, fd.Required, false, "any"))
	}
	return http.StatusOK, page(r, f.listed("fields"), fields)
}

// listed is the key a paged list of create metadata comes under: Cloud's
// name for it, or Data Center's "values".
func (f *Fake) listed(cloud string) string {
	if f.dataCenter() {
		return "values"
	}
	return cloud
}

// project returns the key of the project with this key (any case).
func (f *Fake) project(key string) (string, bool) {
	for _, p := range f.Projects {
		if strings.EqualFold(p, key) {
			return p, true
		}
	}
	return "", false
}

// page answers one page of items under name, by startAt and maxResults
// (default 50), as Jira's paged lists do.
func page[T any](r *http.Request, name string, items []T) map[string]any {
	start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
	size, err := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if err != nil || size <= 0 {
		size = 50
	}
	start = min(max(start, 0), len(items))
	end := min(start+size, len(items))
	return map[string]any{name: items[start:end], "startAt": start, "maxResults": size, "total": len(items)}
}

// search answers GET /rest/api/2/search/jql for the JQL subset in
// parseJQL, oldest issue first, paged by an opaque nextPageToken.
func (f *Fake) search(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	switch legacy := !strings.HasSuffix(r.URL.Path, "/jql"); {
	case legacy && !f.dataCenter():
		return http.StatusGone, jiraError("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")
	case !legacy && f.dataCenter():
		return http.StatusNotFound, jiraError("null for uri: " + r.URL.Path)
	}
	clauses, err := parseJQL(q.Get("jql"))
	if err != nil {
		return http.StatusBadRequest, jiraError(err.Error())
	}
	for _, c := range clauses {
		if c.field == "project" && !f.projectExists(c.value) {
			return http.StatusBadRequest, jiraError(fmt.Sprintf("The value '%s' does not exist for the field 'project'.", c.value))
		}
	}
	var hits []*Issue
	now := time.Now()
	for _, i := range f.issues {
		if now.Sub(i.Created) >= f.SearchLag && matches(i, clauses) {
			hits = append(hits, i)
		}
	}
	start, _ := strconv.Atoi(q.Get("startAt")) // Data Center pages by startAt
	start = min(max(start, 0), len(hits))
	if tok := q.Get("nextPageToken"); tok != "" {
		if start, err = strconv.Atoi(tok); err != nil || start < 0 || start > len(hits) {
			return http.StatusBadRequest, jiraError("The provided next page token is invalid or expired.")
		}
	}
	size := 50
	if n, err := strconv.Atoi(q.Get("maxResults")); err == nil && n > 0 {
		size = min(n, 5000)
	}
	end := min(start+size, len(hits))
	fields := fieldList(r, "id")
	page := []map[string]any{}
	for _, i := range hits[start:end] {
		page = append(page, f.issueJSON(i, fields))
	}
	if f.dataCenter() {
		return http.StatusOK, map[string]any{"issues": page, "startAt": start, "maxResults": size, "total": len(hits)}
	}
	out := map[string]any{"issues": page, "isLast": end == len(hits)}
	if end < len(hits) {
		out["nextPageToken"] = strconv.Itoa(end)
	}
	return http.StatusOK, out
}

func (f *Fake) projectExists(key string) bool {
	for _, p := range f.Projects {
		if strings.EqualFold(p, key) {
			return true
		}
	}
	for _, i := range f.issues {
		if strings.EqualFold(i.Project, key) {
			return true
		}
	}
	return false
}

func matches(i *Issue, clauses []clause) bool {
	for _, c := range clauses {
		switch c.field {
		case "project":
			if !strings.EqualFold(i.Project, c.value) {
				return false
			}
		case "labels":
			if !slices.Contains(i.Labels, c.value) {
				return false
			}
		}
	}
	return true
}

// fieldList reads the fields parameter, repeated or comma-separated.
func fieldList(r *http.Request, dflt string) []string {
	var out []string
	for _, v := range r.URL.Query()["fields"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	if len(out) == 0 {
		return []string{dflt}
	}
	return out
}

// issueJSON renders an issue as v2 does, with the fields asked for. As in
// Jira's search, asking for "id" alone gives the id only.
func (f *Fake) issueJSON(i *Issue, fields []string) map[string]any {
	if len(fields) == 1 && fields[0] == "id" {
		return map[string]any{"id": i.ID}
	}
	categories := map[string]string{"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
	all := map[string]any{
		"summary":     i.Summary,
		"description": nil,
		"labels":      append([]string{}, i.Labels...),
		"status": map[string]any{"name": i.Status,
			"statusCategory": map[string]string{"key": i.StatusCategory, "name": categories[i.StatusCategory]}},
		"project":   map[string]string{"key": i.Project},
		"issuetype": map[string]string{"name": i.IssueType},
		"priority":  nil,
		"assignee":  nil,
		"created":   i.Created.Format("2006-01-02T15:04:05.000-0700"),
	}
	if i.Description != "" {
		all["description"] = i.Description
	}
	if i.Priority != "" {
		all["priority"] = map[string]string{"name": i.Priority}
	}
	if i.AssigneeAccountID != "" {
		all["assignee"] = map[string]string{"accountId": i.AssigneeAccountID}
	}
	if i.AssigneeName != "" {
		all["assignee"] = map[string]string{"name": i.AssigneeName}
	}
	picked := map[string]any{}
	for _, name := range fields {
		if name == "*all" || name == "*navigable" {
			picked = all
			break
		}
		// Unknown names are ignored, as Jira does.
		if v, ok := all[name]; ok {
			picked[name] = v
		}
	}
	return map[string]any{"id": i.ID, "key": i.Key, "self": f.self(i), "fields": picked}
}

// clause is one `field = value` condition of a JQL query.
type clause struct{ field, value string }

// reservedWords must be quoted to be used as values (a subset of Jira's).
var reservedWords = []string{"and", "or", "not", "empty", "null", "order", "by", "asc", "desc",
	"in", "is", "was", "changed", "from", "to", "on", "before", "after", "during"}

// parseJQL reads the JQL subset the hub uses: `labels = value` and
// `project = value` clauses joined by AND, where a value is a word or a
// quoted string. Like Jira, it refuses anything it cannot read rather than
// guessing, so a value spliced in unquoted fails instead of changing the
// query.
func parseJQL(jql string) ([]clause, error) {
	p := jqlParser{src: []rune(jql)}
	if p.skipSpace(); p.done() {
		//lint:ignore ST1005 Jira's own error text, verbatim.
		return nil, errors.New("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
	}
	var out []clause
	for {
		at := p.pos
		field, quoted, err := p.value()
		if err != nil {
			return nil, err
		}
		field = strings.ToLower(field)
		if quoted || (field != "labels" && field != "project") {
			return nil, p.errorf(at, "jiratest supports only the fields 'labels' and 'project', got '%s'", field)
		}
		p.skipSpace()
		if p.done() || p.src[p.pos] != '=' || (p.pos+1 < len(p.src) && p.src[p.pos+1] == '=') {
			return nil, p.errorf(p.pos, "Expecting operator '=' (the only one jiratest supports) but got '%s'", p.rest())
		}
		p.pos++
		p.skipSpace()
		value, _, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, clause{field, value})
		if p.skipSpace(); p.done() {
			return out, nil
		}
		at = p.pos
		if w, quoted, err := p.operand(); err != nil || quoted || !strings.EqualFold(w, "and") {
			return nil, p.errorf(at, "Expecting 'AND' (jiratest supports no other) but got '%s'", p.rest())
		}
		p.skipSpace()
	}
}

type jqlParser struct {
	src []rune
	pos int
}

func (p *jqlParser) done() bool   { return p.pos >= len(p.src) }
func (p *jqlParser) rest() string { return string(p.src[p.pos:]) }

func (p *jqlParser) skipSpace() {
	for !p.done() && strings.ContainsRune(" \t\r\n", p.src[p.pos]) {
		p.pos++
	}
}

// errorf formats a JQL error the way Jira does, with a 1-based position.
func (p *jqlParser) errorf(at int, format string, args ...any) error {
	//lint:ignore ST1005 Jira's own error text, verbatim.
	return fmt.Errorf("Error in the JQL Query: %s. (line 1, character %d)", fmt.Sprintf(format, args...), at+1)
}

// value reads an operand that is a field name or a value: a reserved word
// there must be quoted.
func (p *jqlParser) value() (string, bool, error) {
	at := p.pos
	w, quoted, err := p.operand()
	if err == nil && !quoted && slices.Contains(reservedWords, strings.ToLower(w)) {
		return "", false, p.errorf(at, "'%s' is a reserved JQL word. You must surround it in quotation marks to use it in a query", w)
	}
	return w, quoted, err
}

// operand reads a word or a quoted string and reports whether it was
// quoted.
func (p *jqlParser) operand() (string, bool, error) {
	if p.done() {
		return "", false, p.errorf(p.pos, "Expecting either a value, list or function but got end of query")
	}
	if q := p.src[p.pos]; q == '"' || q == '\'' {
		s, err := p.quoted(q)
		return s, true, err
	}
	start := p.pos
	for !p.done() && !strings.ContainsRune(" \t\r\n", p.src[p.pos]) {
		c := p.src[p.pos]
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c > 127) {
			if p.pos > start && strings.ContainsRune("=!~<>", c) {
				break // an operator right after a field name
			}
			if strings.ContainsRune("(),", c) {
				return "", false, p.errorf(p.pos, "Unexpected '%c': jiratest supports only field = value clauses joined by AND", c)
			}
			return "", false, p.errorf(p.pos, "The character '%c' is a reserved JQL character. You must enclose it in a string or use the escape '\\u%04x' instead", c, c)
		}
		p.pos++
	}
	if p.pos == start {
		return "", false, p.errorf(start, "Expecting either a value, list or function but got '%s'", p.rest())
	}
	return string(p.src[start:p.pos]), false, nil
}

// quoted reads a string in quote q, decoding JQL's escapes.
func (p *jqlParser) quoted(q rune) (string, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for !p.done() {
		c := p.src[p.pos]
		p.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c != '\\':
			b.WriteRune(c)
		case p.done():
			return "", p.errorf(p.pos-1, "The escape sequence at the end of the query is incomplete")
		default:
			e := p.src[p.pos]
			p.pos++
			switch e {
			case '"', '\'', '\\', ' ':
				b.WriteRune(e)
			case 'n':
				b.WriteRune('\n')
			case 'r':
				b.WriteRune('\r')
			case 't':
				b.WriteRune('\t')
			case 'u':
				if p.pos+4 > len(p.src) {
					return "", p.errorf(p.pos-2, "The escape sequence '\\u' is incomplete")
				}
				n, err := strconv.ParseUint(string(p.src[p.pos:p.pos+4]), 16, 16)
				if err != nil {
					return "", p.errorf(p.pos-2, "The escape sequence '\\u%s' is illegal", string(p.src[p.pos:p.pos+4]))
				}
				b.WriteRune(rune(n))
				p.pos += 4
			default:
				return "", p.errorf(p.pos-2, "The escape sequence '\\%c' is illegal", e)
			}
		}
	}
	return "", p.errorf(start, "The quoted string '%s' has not been completed", string(p.src[start+1:]))
}
