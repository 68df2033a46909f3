package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/incidenthub/incidenthub/connectors/connectortest"
)

// App is the GitHub App the double knows, installed once.
type App struct {
	ID, InstallationID int64
	key                *rsa.PrivateKey
}

// AppHook names the App's own webhook's delivery list (one per App).
const AppHook = "app"

// EnableApp makes the double a GitHub App installation, and returns the
// App and its private key, PEM-encoded as GitHub hands it out. From then
// on every call but the App's own needs an installation token the double
// minted, and the App's calls (/app/...) a JWT signed with the key.
func (f *Fake) EnableApp(t connectortest.TB) (App, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("%v", err)
	}
	app := App{ID: 424242, InstallationID: 7654321, key: key}
	f.mu.Lock()
	f.app = &app
	f.mu.Unlock()
	return app, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// TokensMinted counts the installation tokens the double minted.
func (f *Fake) TokensMinted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokens)
}

// installationTokenTTL is how long GitHub's installation tokens live.
const installationTokenTTL = time.Hour

// authenticated checks a call's credentials as GitHub does once an App is
// enabled: the App's calls need a JWT it signed (RS256, issued by its id,
// for at most ten minutes), the others an unexpired installation token.
// Without an App, any credentials pass (the hub's token).
func (f *Fake) authenticated(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	app := f.app
	f.mu.Unlock()
	if app == nil {
		return true
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.HasPrefix(r.URL.Path, "/app/") {
		if !strings.EqualFold(scheme, "Bearer") || !app.validJWT(cred, time.Now()) {
			unauthorized(w, "A JSON web token could not be decoded")
			return false
		}
		return true
	}
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "Bearer") {
		unauthorized(w, "Requires authentication")
		return false
	}
	f.mu.Lock()
	expires, ok := f.tokens[cred]
	f.mu.Unlock()
	if !ok || time.Now().After(expires) {
		unauthorized(w, "Bad credentials")
		return false
	}
	return true
}

func (a *App) validJWT(token string, now time.Time) bool {
	claims := &jwt.RegisteredClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return &a.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || !parsed.Valid || claims.IssuedAt == nil || claims.ExpiresAt == nil {
		return false
	}
	// GitHub: issued by the App's id (a string or a number), expiring at
	// most ten minutes after it was issued.
	return claims.Issuer == strconv.FormatInt(a.ID, 10) && claims.ExpiresAt.Sub(claims.IssuedAt.Time) <= 10*time.Minute &&
		now.Before(claims.ExpiresAt.Time)
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// accessToken answers POST /app/installations/{id}/access_tokens: a new
// installation token, valid for an hour.
func (f *Fake) accessToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.app == nil || r.PathValue("installation_id") != strconv.FormatInt(f.app.InstallationID, 10) {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Not Found"})
		return
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	token := "ghs_" + hex.EncodeToString(b)
	expires := time.Now().Add(installationTokenTTL).UTC().Truncate(time.Second)
	if f.tokens == nil {
		f.tokens = map[string]time.Time{}
	}
	f.tokens[token] = expires
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_at": expires.Format(time.RFC3339),
		"permissions": map[string]string{"issues": "write", "contents": "write", "metadata": "read"}, "repository_selection": "selected"})
}
