package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// Client settings and their defaults (docs/cli.md, "Settings").
const (
	defaultBaseURL   = "http://localhost:8080"
	defaultWorkspace = "default"
)

// clientSettings are the flags shared by every client command. Environment
// variables provide the defaults, so a flag always wins.
type clientSettings struct {
	baseURL   string
	workspace string
	format    outputFormat
	caCert    string
	tokenFile string
	// token is the bearer token, read by prepare from --token-file or
	// NMP_ACCESS_TOKEN.
	token string
	// headers are extra request headers (coffer run's service identity).
	headers map[string]string
	hc      *http.Client
}

// addClientFlags registers the shared flags on a command group; withWorkspace
// adds --workspace, which only the secrets commands use. The settings are
// checked before any subcommand runs.
func addClientFlags(cmd *cobra.Command, withWorkspace bool) *clientSettings {
	s := &clientSettings{format: formatTable}
	flags := cmd.PersistentFlags()
	s.registerConnection(flags.StringVar)
	flags.VarP(&s.format, "output-format", "f", "output format: table, json or yaml")
	if withWorkspace {
		flags.StringVar(&s.workspace, "workspace", envOr("NMP_WORKSPACE", defaultWorkspace), "workspace (env NMP_WORKSPACE)")
	}
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return s.prepare() }
	return s
}

// registerConnection registers the flags that say how to reach the server.
func (s *clientSettings) registerConnection(stringVar func(p *string, name, value, usage string)) {
	stringVar(&s.baseURL, "base-url", envOr("NMP_BASE_URL", defaultBaseURL),
		"service URL (env NMP_BASE_URL); without a scheme, http:// is assumed for loopback hosts only")
	stringVar(&s.caCert, "ca-cert", os.Getenv("NMP_CA_CERT"),
		"PEM file of CA certificates to trust for https, besides the system's (env NMP_CA_CERT)")
	stringVar(&s.tokenFile, "token-file", "",
		"read the bearer token from this file (default: env NMP_ACCESS_TOKEN)")
}

// prepare checks the base URL, loads --ca-cert and reads the token, so that
// a mistake in them is a usage error before any request.
func (s *clientSettings) prepare() error {
	u, err := normalizeBaseURL(s.baseURL)
	if err != nil {
		return usageError(err.Error())
	}
	s.baseURL = u
	s.hc = http.DefaultClient
	if s.caCert != "" {
		if s.hc, err = httpClientTrusting(s.caCert); err != nil {
			return usageError(err.Error())
		}
	}
	s.token = os.Getenv("NMP_ACCESS_TOKEN")
	if s.tokenFile != "" {
		b, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return usageError("--token-file: " + err.Error())
		}
		s.token = strings.TrimSpace(string(b))
		if s.token == "" {
			return usageError("--token-file " + s.tokenFile + " is empty")
		}
	}
	return nil
}

// client builds an API client. The token comes from NMP_ACCESS_TOKEN or a
// file rather than a flag so that it never shows up in a process listing.
func (s *clientSettings) client() *client.Client {
	hc := s.hc
	if hc == nil { // prepare did not run (every command group runs it first)
		hc = http.DefaultClient
	}
	opts := []client.Option{client.WithHTTPClient(hc), client.WithBearerToken(s.token)}
	for k, v := range s.headers {
		opts = append(opts, client.WithHeader(k, v))
	}
	return client.New(s.baseURL, opts...)
}

// normalizeBaseURL checks a base URL. Without a scheme ("127.0.0.1:8080")
// http:// is assumed when the host is loopback, where nothing crosses a
// network; for any other host guessing could send a token in clear text, so
// it is an error that says what to write.
func normalizeBaseURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		host := raw
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if !isLoopbackHost(host) {
			return "", fmt.Errorf("--base-url %q has no scheme: write https://%s (or http://%s if it really serves plain HTTP)", raw, raw, raw)
		}
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("--base-url %q is not a URL: %v", raw, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--base-url %q: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("--base-url %q has no host", raw)
	}
	return raw, nil
}

// isLoopbackHost reports whether hostport names this machine: localhost or
// a loopback address, with or without a port.
func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClientTrusting returns an HTTP client that trusts the CA certificates
// in the PEM file path as well as the system's.
func httpClientTrusting(path string) (*http.Client, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in the file", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// failed turns a client error (an error answer or an unreachable server)
// into exit status 1 with "Error: <status> <detail>" or the transport error,
// followed by a hint where the server's words alone leave a user stuck: how
// to authenticate after a 401, the naming rules after a 422 on a name.
func failed(err error) error {
	msg := "Error: " + err.Error()
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if hint := hintFor(apiErr); hint != "" {
			msg += "\n" + hint
		}
	}
	return &exitError{code: 1, msg: msg}
}

// Rules in plain words, for the CLI to print under a 422 on a name. The
// server's messages are the reference's, kept byte-exact for its clients.
const (
	hintUnauthorized = "Hint: the server wants a valid bearer token: set NMP_ACCESS_TOKEN to one, or pass --token-file FILE " +
		"(a token that was sent may have expired or be meant for another server)."
	hintSecretName = "Secret names are 2 to 63 characters long: lowercase letters a-z, digits 0-9, '.', '_' and '-'. " +
		"They start with a letter, do not end with '-' and never contain '--'. Example: my-api-key"
	hintWorkspaceName = "Workspace names are 2 to 63 characters long: lowercase letters a-z, digits 0-9, '-', '_', '.', '@' and '+'. " +
		"They start with a letter, do not end with '-' and never contain '--'. Example: ml-team"
)

func hintFor(e *client.APIError) string {
	if e.Status == http.StatusUnauthorized {
		return hintUnauthorized
	}
	items, ok := e.Detail.([]client.ValidationItem)
	if !ok || e.Status != http.StatusUnprocessableEntity {
		return ""
	}
	for _, it := range items {
		if it.Location() != "body.name" {
			continue
		}
		switch it.Type {
		case "value_error": // only secret names are checked for characters
			return hintSecretName
		case "string_pattern_mismatch":
			// The workspace pattern is the only one that allows '@'.
			if p, _ := it.Ctx["pattern"].(string); strings.Contains(p, "@") {
				return hintWorkspaceName
			}
			return hintSecretName
		}
	}
	return ""
}

// outputFormat is the -f/--output-format flag; an unknown name is a flag
// error, hence exit status 2.
type outputFormat string

const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
	formatYAML  outputFormat = "yaml"
)

func (f *outputFormat) String() string { return string(*f) }

func (f *outputFormat) Type() string { return "format" }

func (f *outputFormat) Set(v string) error {
	switch outputFormat(strings.ToLower(v)) {
	case formatTable, formatJSON, formatYAML:
		*f = outputFormat(strings.ToLower(v))
		return nil
	}
	return fmt.Errorf("%q is not one of table, json, yaml", v)
}
