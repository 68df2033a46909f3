// Package httpserver runs the hub's single HTTP listener: the routes that
// modules contribute, plus health, readiness and metrics.
package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store"
)

// Module provides the *Server and starts it with the app.
var Module = fx.Module("httpserver",
	fx.Provide(New),
	// Ready when the store answers.
	fx.Provide(fx.Private, func(s *store.Store) Pinger { return s }),
	fx.Invoke(func(*Server) {}),
)

// Route is one handler that a module contributes to the listener.
type Route struct {
	// Pattern is a net/http pattern such as "POST /webhooks/pagerduty".
	Pattern string
	Handler http.Handler
}

// Pinger reports whether a dependency the hub needs is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Params are the server's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Listen    string  `name:"listen"`
	Routes    []Route `group:"routes"`
	Store     Pinger
	Metrics   *metrics.Metrics
	Log       *slog.Logger
}

// Server is the HTTP listener.
type Server struct {
	srv  *http.Server
	addr net.Addr
	log  *slog.Logger
}

// New builds the server and ties it to the lifecycle.
func New(p Params) *Server {
	mux := http.NewServeMux()
	for _, r := range p.Routes {
		mux.Handle(r.Pattern, r.Handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.Store.Ping(ctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	// A gauge that cannot read the database (it went away) leaves its
	// metric out, logged; the counters are still served.
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.Metrics.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, ErrorLog: slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn)}))

	s := &Server{
		log: p.Log.With("component", "http"),
		srv: &http.Server{
			Addr:              p.Listen,
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			// Vendors time out in 5 s (PagerDuty) to 10 s (GitHub); a slow
			// client must not hold a connection much longer than that.
			ReadTimeout:  30 * time.Second,
			WriteTimeout: 30 * time.Second,
			IdleTimeout:  2 * time.Minute,
			ErrorLog:     slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
		},
	}
	p.Lifecycle.Append(fx.Hook{OnStart: s.start, OnStop: s.srv.Shutdown})
	return s
}

// start binds the listener, so that a taken port fails start-up, then
// serves in the background until Shutdown.
func (s *Server) start(context.Context) error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr()
	s.log.Info("listening", "addr", s.addr.String())
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address, once started (useful with listen ":0").
func (s *Server) Addr() net.Addr { return s.addr }
