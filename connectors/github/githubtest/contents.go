package githubtest

import (
	"crypto/sha1" //nolint:gosec // git names blobs by SHA-1; the double does as GitHub does
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// contentsPath joins the folders of a contents API path into one segment
// for validation: GitHub's {path} parameter spans folders
// (contents/reviews/2026/INC-1.md), and kin-openapi's router matches a
// parameter to one segment. The handler gets the path as sent.
func contentsPath(p string) string {
	parts := strings.SplitN(p, "/", 6) // "", repos, owner, repo, contents, path
	if len(parts) < 6 || parts[1] != "repos" || parts[4] != "contents" {
		return p
	}
	return strings.Join(parts[:5], "/") + "/" + strings.ReplaceAll(parts[5], "/", "~")
}

// repoFile is a file of a repository the double keeps, on its one branch.
type repoFile struct {
	content []byte
	sha     string
}

// blobSHA is git's name for content: the SHA-1 of "blob <size>\0" and
// the bytes, which GitHub's contents API answers as sha.
func blobSHA(content []byte) string {
	h := sha1.New() //nolint:gosec // git's object names
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// getContents answers GET /repos/{owner}/{repo}/contents/{path}: the file,
// base64 encoded as GitHub sends it, or 404.
func (f *Fake) getContents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft, ok := f.fault("contents"); ok {
		f.fail(w, ft)
		return
	}
	p := r.PathValue("path")
	file := f.files[p]
	if file == nil {
		http.Error(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/contents#get-repository-content"}`, http.StatusNotFound)
		return
	}
	reply(w, http.StatusOK, f.contentJSON(r, p, file, true))
}

// putContents answers PUT /repos/{owner}/{repo}/contents/{path} as GitHub
// does: a new file needs no sha; replacing one needs the sha of the
// version replaced (422 without it, 409 when it is not the current one).
func (f *Fake) putContents(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Message string `json:"message"`
		Content string `json:"content"`
		SHA     string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	content, err := base64.StdEncoding.DecodeString(req.Content)
	if err != nil {
		http.Error(w, `{"message":"content is not valid Base64"}`, http.StatusUnprocessableEntity)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft, ok := f.fault("put"); ok {
		if ft.Effect {
			f.store(r.PathValue("path"), content, req.Message)
		}
		f.fail(w, ft)
		return
	}
	p := r.PathValue("path")
	old := f.files[p]
	switch {
	case old != nil && req.SHA == "":
		http.Error(w, `{"message":"Invalid request.\n\n\"sha\" wasn't supplied."}`, http.StatusUnprocessableEntity)
		return
	case old != nil && req.SHA != old.sha, old == nil && req.SHA != "":
		http.Error(w, fmt.Sprintf(`{"message":"%s does not match %s"}`, p, req.SHA), http.StatusConflict)
		return
	}
	f.writes = append(f.writes, time.Now())
	file := f.store(p, content, req.Message)
	status := http.StatusCreated
	if old != nil {
		status = http.StatusOK
	}
	sha := file.sha
	reply(w, status, map[string]any{
		"content": f.contentJSON(r, p, file, false),
		"commit": map[string]any{"sha": sha, "message": req.Message, "html_url": f.URL + "/commit/" + sha,
			"author": map[string]any{"name": "incidenthub", "email": "hub@example.com", "date": "2026-04-01T00:00:00Z"}},
	})
}

// store keeps content at p and records the commit.
func (f *Fake) store(p string, content []byte, message string) *repoFile {
	if f.files == nil {
		f.files = map[string]*repoFile{}
	}
	file := &repoFile{content: slices.Clone(content), sha: blobSHA(content)}
	f.files[p] = file
	f.commits = append(f.commits, message)
	return file
}

func (f *Fake) contentJSON(r *http.Request, p string, file *repoFile, withContent bool) map[string]any {
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	name := p[strings.LastIndex(p, "/")+1:]
	out := map[string]any{
		"type": "file", "name": name, "path": p, "sha": file.sha, "size": len(file.content),
		"url":          f.URL + "/repos/" + repo + "/contents/" + p,
		"html_url":     "https://github.com/" + repo + "/blob/main/" + p,
		"git_url":      f.URL + "/repos/" + repo + "/git/blobs/" + file.sha,
		"download_url": "https://raw.githubusercontent.com/" + repo + "/main/" + p,
	}
	if withContent {
		out["encoding"] = "base64"
		out["content"] = base64.StdEncoding.EncodeToString(file.content)
	}
	return out
}

// File returns the content of a file in the review repo; ok is false
// when there is none.
func (f *Fake) File(path string) (content string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file := f.files[path]
	if file == nil {
		return "", false
	}
	return string(file.content), true
}

// Files lists the paths of the repo's files, sorted.
func (f *Fake) Files() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.files))
}

// Commits returns the messages of the commits made through the contents
// API, oldest first.
func (f *Fake) Commits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commits)
}

// SetFile commits content at path, as a person (or another hub) would.
func (f *Fake) SetFile(path, content string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(path, []byte(content), "by hand")
}
