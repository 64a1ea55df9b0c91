package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// Client settings and their defaults (api.md §10).
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
}

// addClientFlags registers the shared flags on a command group; withWorkspace
// adds --workspace, which only the secrets commands use.
func addClientFlags(cmd *cobra.Command, withWorkspace bool) *clientSettings {
	s := &clientSettings{format: formatTable}
	flags := cmd.PersistentFlags()
	flags.StringVar(&s.baseURL, "base-url", envOr("NMP_BASE_URL", defaultBaseURL), "service URL (env NMP_BASE_URL)")
	flags.VarP(&s.format, "output-format", "f", "output format: table, json or yaml")
	if withWorkspace {
		flags.StringVar(&s.workspace, "workspace", envOr("NMP_WORKSPACE", defaultWorkspace), "workspace (env NMP_WORKSPACE)")
	}
	return s
}

// client builds an API client; NMP_ACCESS_TOKEN is read here rather than
// offered as a flag so that it never shows up in a process listing.
func (s *clientSettings) client() *client.Client {
	return client.New(s.baseURL, client.WithBearerToken(os.Getenv("NMP_ACCESS_TOKEN")))
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// failed turns a client error (an error answer or an unreachable server)
// into exit status 1 with "Error: <status> <detail>" or the transport error.
func failed(err error) error {
	return &exitError{code: 1, msg: "Error: " + err.Error()}
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
