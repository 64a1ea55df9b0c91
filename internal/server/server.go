// Package server assembles a running Coffer from its configuration: logging,
// storage, key providers, the domain service and the HTTP listener. Both
// `coffer serve` and the end-to-end tests use it, so the tests run exactly
// the wiring that production runs.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/buildinfo"
	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/console"
	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/httpapi"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres"
	"github.com/coffer-dev/coffer/internal/store/sqlite"
)

// Server is an assembled Coffer, ready to serve.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	store   secrets.Store
	ring    *envelope.Keyring
	Service *secrets.Service
	http    *http.Server
	trail   *secrets.AuditLog
	sink    *os.File         // coffer.audit.file, nil when unset
	metrics *metrics.Metrics // nil when coffer.metrics.enabled is false
	admin   *http.Server     // coffer.admin.listen; nil when not set
	adminLn net.Listener

	// Work that Serve starts in the background ends with the server:
	// Shutdown cancels life and waits for bg before closing the store.
	mu   sync.Mutex // orders ending life against bg.Add
	life context.Context
	end  context.CancelFunc
	bg   sync.WaitGroup
}

// New opens storage, builds and validates key providers, creates the
// built-in workspaces and prepares the HTTP server. Any error is a startup
// error whose text names the bad setting.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, lookup func(string) (string, bool)) (*Server, error) {
	bi := buildinfo.Get()
	log.Info("Coffer starting", "version", bi.Version, "commit", bi.Commit, "build_date", bi.BuildDate,
		"go_version", bi.GoVersion, "auth_enabled", cfg.Auth.Enabled)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if cfg.File != "" {
		log.Info("configuration file loaded", "path", cfg.File)
	} else {
		log.Info("no configuration file; using defaults and environment")
	}
	var m *metrics.Metrics
	if cfg.Coffer.Metrics.Enabled {
		m = metrics.New(bi)
	}
	store, err := openStore(ctx, cfg, log, m)
	if err != nil {
		return nil, err
	}
	s, err := assemble(ctx, cfg, log, lookup, store, m)
	if err != nil {
		store.Close()
		return nil, err
	}
	return s, nil
}

func assemble(ctx context.Context, cfg *config.Config, log *slog.Logger, lookup func(string) (string, bool), store secrets.Store, m *metrics.Metrics) (*Server, error) {
	svc, ring, err := newService(ctx, cfg, log, lookup, store, m)
	if err != nil {
		return nil, err
	}
	s, err := assembleHTTP(ctx, cfg, log, store, m, svc, ring)
	if err != nil {
		ring.Close() // ends a Vault provider's token renewal
		return nil, err
	}
	return s, nil
}

// assembleHTTP builds authentication, the audit trail and the HTTP
// servers around the domain service.
func assembleHTTP(ctx context.Context, cfg *config.Config, log *slog.Logger, store secrets.Store, m *metrics.Metrics, svc *secrets.Service, ring *envelope.Keyring) (*Server, error) {
	// Fetches of the IdP's discovery document and JWKS are counted through
	// the auth package's hooks, so it needs no metrics of its own.
	idp := auth.WithObserver(auth.Observer{Fetch: m.IdPFetch, StaleKeys: m.StaleKeys})
	engine, err := auth.NewEngine(cfg.Auth, store, auth.WithLogger(log), idp)
	if err != nil {
		return nil, err
	}
	con, err := console.New(console.Config{ClientID: cfg.ConsoleClientID(),
		Issuer: cfg.Auth.OIDC.Issuer, TokenEndpoint: cfg.Auth.OIDC.TokenEndpoint})
	if err != nil {
		return nil, err
	}
	if err := seed(ctx, svc, cfg.Auth); err != nil {
		return nil, fmt.Errorf("seeding role bindings: %w", err)
	}
	ngcWS, ngcName := cfg.NGC()
	warnAuth(cfg, log)
	logTrustedNetworks(cfg, log)
	warnShadowed(ctx, log, store, ngcWS, ngcName)
	warnExposure(cfg, log)
	trail, sink, err := openAuditLog(cfg.Coffer.Audit, store, log)
	if err != nil {
		return nil, err
	}
	observe(m, store, svc, trail)
	api := httpapi.New(httpapi.Config{
		Service: svc,
		Limits: httpapi.Limits{MaxBodyBytes: int64(cfg.Coffer.Limits.MaxBodyBytes),
			MaxValueBytes: cfg.Coffer.Limits.MaxValueBytes, MaxDescriptionChars: cfg.Coffer.Limits.MaxDescriptionChars},
		Logger:          log,
		Ready:           ready(store, ring),
		TrustedNetworks: cfg.TrustedNetworks(),
		MaxInFlight:     cfg.Coffer.HTTP.MaxInFlight,
		Auth:            engine,
		Discovery:       auth.NewDiscovery(cfg.Auth, auth.WithLogger(log), idp),
		Audit:           trail,
		AuditReads:      cfg.Coffer.Audit.Reads,
		AuditSyncReads:  cfg.Coffer.Audit.SyncReads(),
		Metrics:         m,
		Console:         con,
	})
	h := cfg.Coffer.HTTP
	hs := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: seconds(h.ReadHeaderTimeoutSeconds),
		ReadTimeout:       seconds(h.ReadTimeoutSeconds),
		WriteTimeout:      seconds(h.WriteTimeoutSeconds),
		IdleTimeout:       seconds(h.IdleTimeoutSeconds),
		MaxHeaderBytes:    h.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s := &Server{cfg: cfg, log: log, store: store, ring: ring, Service: svc, http: hs, trail: trail, sink: sink, metrics: m}
	if cfg.Coffer.Admin.Listen != "" {
		// No write timeout: a CPU profile or trace streams for as long as
		// ?seconds= asks, and net/http/pprof refuses durations beyond it.
		s.admin = &http.Server{
			Handler:           adminHandler(m),
			ReadHeaderTimeout: seconds(h.ReadHeaderTimeoutSeconds),
			IdleTimeout:       seconds(h.IdleTimeoutSeconds),
			MaxHeaderBytes:    h.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	// The lifetime keeps ctx's values but not its end: New's context may be
	// a startup deadline, and Shutdown ends background work anyway.
	s.life, s.end = context.WithCancel(context.WithoutCancel(ctx))
	return s, nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// newService builds the key providers and the domain service on store and
// makes sure the built-in workspaces exist.
// ready is /health/ready: the database answers and every key provider can
// work (a Vault token past its expiry is reported, docs/key-management.md).
func ready(store secrets.Store, ring *envelope.Keyring) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := store.Ping(ctx); err != nil {
			return err
		}
		return ring.Health()
	}
}

func newService(ctx context.Context, cfg *config.Config, log *slog.Logger, lookup func(string) (string, bool), store secrets.Store, m *metrics.Metrics) (*secrets.Service, *envelope.Keyring, error) {
	ring, err := keys.Build(cfg.Secrets.Encryption, keys.DevKeyOptions{
		Path:             cfg.Secrets.LocalKeyCreationPath,
		AllowKeyCreation: cfg.Secrets.AllowKeyCreation,
		PostgreSQL:       cfg.IsPostgres(),
	}, log)
	if err != nil {
		return nil, nil, err
	}
	if m != nil {
		// Every provider call (a Transit round trip for Vault) is counted
		// and timed by provider name.
		ring = ring.Observed(func(name string) envelope.ProviderHook { return m.KEKObserver(name) })
	}
	ngcWS, ngcName := cfg.NGC()
	svc := secrets.NewService(store, ring, secrets.Config{
		NGC:               secrets.NGC{Workspace: ngcWS, Name: ngcName, Value: cfg.NGCValue(lookup)},
		RotationBatchSize: cfg.Coffer.Rotation.BatchSize,
		MaxVersions:       cfg.Secrets.MaxVersions,
		DeletedRetention:  cfg.Secrets.Retention(),
		Logger:            log,
	})
	if err := svc.EnsureBuiltins(ctx); err != nil {
		ring.Close()
		return nil, nil, fmt.Errorf("creating built-in workspaces: %w", err)
	}
	return svc, ring, nil
}

// OpenService opens storage and key providers without HTTP, for offline
// commands such as `coffer import`. close releases the database.
func OpenService(ctx context.Context, cfg *config.Config, log *slog.Logger, lookup func(string) (string, bool)) (svc *secrets.Service, close func() error, err error) {
	store, err := openStore(ctx, cfg, log, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, ring, err := newService(ctx, cfg, log, lookup, store, nil)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, func() error { return errors.Join(store.Close(), ring.Close()) }, nil
}

func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (secrets.Store, error) {
	if cfg.IsPostgres() {
		st, err := postgres.Open(ctx, cfg.Coffer.Database.DSN, cfg.Coffer.Database.MaxOpenConns, log)
		if err != nil {
			return nil, fmt.Errorf("coffer.database.dsn: cannot open PostgreSQL: %w", err)
		}
		return st, nil
	}
	if err := os.MkdirAll(cfg.Coffer.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("coffer.data_dir: cannot create %s: %w", cfg.Coffer.DataDir, errors.Unwrap(err))
	}
	path := cfg.SQLitePath()
	st, err := sqlite.Open(ctx, path, log, sqlite.WithCommitHook(m.CommitObserver()))
	if err != nil {
		return nil, fmt.Errorf("coffer.database: cannot open SQLite database %s: %w", path, err)
	}
	log.Info("storage: SQLite", "path", path)
	return st, nil
}

// warnUnreadable names providers that stored records use but that are not
// configured (docs/crypto.md §6). CountSealed reads every stored version
// (0.3 s for a million in SQLite), so Serve runs this in the background
// rather than delaying readiness: it only logs. A count cut short by
// shutdown is not worth a warning.
func warnUnreadable(ctx context.Context, log *slog.Logger, store secrets.Store, ring *envelope.Keyring) {
	counts, err := store.CountSealed(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		log.Warn("could not count secrets by provider", "error", err.Error())
		return
	}
	for p, n := range secrets.UnreadableByProvider(counts, ring) {
		log.Warn(fmt.Sprintf("%d secrets use provider '%s', which is not configured; they cannot be read", n, p))
	}
}

// warnShadowed names a stored record hidden by the virtual NGC secret.
func warnShadowed(ctx context.Context, log *slog.Logger, store secrets.Store, ws, name string) {
	if ws == "" {
		return
	}
	if _, err := store.GetSecret(ctx, ws, name); err == nil {
		log.Warn("a stored secret has the reserved NGC API key name and is hidden while platform.ngc_api_key_secret is set",
			"workspace", ws, "name", name)
	}
}

// seed creates the seed role bindings of docs/auth.md "Roles", once per database and
// also with auth disabled, so that turning auth on later behaves the same.
// On a database already seeded it only reads: the workspace lookup of
// Service.Seed and Store.Seed's check of the seed record come before any
// write, so a restart (or every replica of a rolling one) commits nothing.
func seed(ctx context.Context, svc *secrets.Service, cfg auth.Config) error {
	for _, sd := range auth.Seeds(cfg) {
		if err := svc.Seed(ctx, sd.Workspace, sd.Principal, sd.Role); err != nil {
			return err
		}
	}
	return nil
}

func warnAuth(cfg *config.Config, log *slog.Logger) {
	for _, n := range cfg.Notes {
		log.Info(n)
	}
	for _, w := range auth.StartupWarnings(cfg.Auth, cfg.TrustedNetworks()) {
		log.Warn(w)
	}
}

// localOnly reports whether a listen address is reachable only from this
// host. A host name other than localhost counts as reachable from others.
func localOnly(listen string) bool {
	host, _, _ := net.SplitHostPort(listen)
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// logTrustedNetworks names, with authentication on, the networks whose
// identity headers are trusted, and says what trusting loopback means: any
// local process can assert any identity, including the service principals
// that read values (docs/auth.md "Platform services: reading values"). That
// is a warning when Coffer also listens for other hosts, since the host is
// then a server that may run other workloads rather than a developer's
// machine.
func logTrustedNetworks(cfg *config.Config, log *slog.Logger) {
	if !cfg.Auth.Enabled {
		return
	}
	trusted := cfg.TrustedNetworks()
	log.Info("identity headers (X-NMP-Principal-*) are trusted from: "+trusted.String(),
		"setting", "coffer.auth.trusted_header_networks")
	if !trusted.Contains("127.0.0.1:0") && !trusted.Contains("[::1]:0") {
		return
	}
	msg := "coffer.auth.trusted_header_networks includes loopback: any process on this host " +
		"(in Kubernetes, any container of the pod) can connect over loopback and act as any principal, " +
		"including service principals that read secret values"
	if localOnly(cfg.Coffer.Listen) {
		log.Info(msg)
		return
	}
	log.Warn(msg + "; Coffer also listens on " + cfg.Coffer.Listen + " for other hosts: unless a local " +
		"proxy must assert identities, trust only the platform services' network")
}

func warnExposure(cfg *config.Config, log *slog.Logger) {
	if cfg.Auth.Enabled || localOnly(cfg.Coffer.Listen) {
		return
	}
	log.Warn("authentication is disabled and Coffer listens on " + cfg.Coffer.Listen +
		": anyone who can reach " + cfg.Coffer.Listen + " can read every secret value")
}

// Listen opens the configured listen address, and the admin listener when
// coffer.admin.listen is set (Serve serves both).
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Coffer.Listen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.cfg.ListenKey(), err)
	}
	if s.admin != nil && s.adminLn == nil {
		if s.adminLn, err = net.Listen("tcp", s.cfg.Coffer.Admin.Listen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("coffer.admin.listen: %w", err)
		}
	}
	return ln, nil
}

// AdminAddr is the admin listener's address once Listen has opened it, or
// "" when there is none.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Serve serves on ln until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	tlsCfg := s.cfg.Coffer.TLS
	scheme := "http"
	if tlsCfg.CertFile != "" {
		scheme = "https"
		s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s.log.Info("Coffer listening", "address", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(),
		"metrics", s.metrics != nil)
	if s.adminLn != nil {
		s.log.Info("admin listener (metrics, pprof) listening", "address", s.adminLn.Addr().String())
		s.background(func(context.Context) { s.serveAdmin() })
	}
	s.background(func(ctx context.Context) { warnUnreadable(ctx, s.log, s.store, s.ring) })
	s.background(s.purgeLoop)
	s.background(s.auditPruneLoop)
	var err error
	if tlsCfg.CertFile != "" {
		err = s.http.ServeTLS(ln, tlsCfg.CertFile, tlsCfg.KeyFile)
	} else {
		err = s.http.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// background runs f in its own goroutine with the server's lifetime
// context, unless Shutdown has begun.
func (s *Server) background(f func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.life.Err() != nil {
		return // Shutdown has begun
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f(s.life)
	}()
}

// Shutdown ends background work, stops accepting connections, waits for
// in-flight requests until ctx ends, then closes storage once nothing uses it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.end()
	s.mu.Unlock()
	err := s.http.Shutdown(ctx)
	if s.admin != nil {
		s.admin.Shutdown(ctx)
		if s.adminLn != nil {
			s.adminLn.Close() // when Serve never ran
		}
	}
	s.bg.Wait()
	s.trail.Close() // stores the queued events while the store is open
	if s.sink != nil {
		if cerr := s.sink.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	// Last: a request that outlived ctx may still be using a provider.
	if cerr := s.ring.Close(); err == nil {
		err = cerr
	}
	return err
}

// Handler returns the API handler (for tests that need it without a listener).
func (s *Server) Handler() http.Handler { return s.http.Handler }
