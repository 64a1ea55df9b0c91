package server

import (
	"context"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/config"
)

// TestStartupLogNamesTrustedNetworks: with authentication on, the startup
// log names the networks whose identity headers are trusted; when they
// include loopback it explains that any local process can then act as any
// principal, as a warning when Coffer also listens for other hosts. With
// authentication off nothing is said about them.
func TestStartupLogNamesTrustedNetworks(t *testing.T) {
	const loopback = "coffer.auth.trusted_header_networks includes loopback: any process on this host " +
		"(in Kubernetes, any container of the pod) can connect over loopback and act as any principal, " +
		"including service principals that read secret values"
	tests := []struct {
		name     string
		auth     bool
		listen   string
		networks string // "" = the default (loopback)
		want     []string
		absent   []string
	}{
		{name: "auth off", listen: "0.0.0.0:0",
			absent: []string{"identity headers", "includes loopback"}},
		{name: "default networks, loopback listener", auth: true, listen: "127.0.0.1:0",
			want: []string{`level=INFO msg="identity headers (X-NMP-Principal-*) are trusted from: 127.0.0.0/8, ::1/128" setting=coffer.auth.trusted_header_networks`,
				`level=INFO msg="` + loopback + `"`},
			absent: []string{"level=WARN msg=\"coffer.auth.trusted_header_networks includes loopback"}},
		{name: "default networks, all interfaces", auth: true, listen: "0.0.0.0:0",
			want: []string{`level=INFO msg="identity headers (X-NMP-Principal-*) are trusted from: 127.0.0.0/8, ::1/128"`,
				`level=WARN msg="` + loopback + `; Coffer also listens on 0.0.0.0:0 for other hosts: unless a local proxy must assert identities, trust only the platform services' network"`}},
		{name: "service network only", auth: true, listen: "[::]:0", networks: "10.20.0.0/16",
			want:   []string{`level=INFO msg="identity headers (X-NMP-Principal-*) are trusted from: 10.20.0.0/16"`},
			absent: []string{"includes loopback"}},
		{name: "service network and one loopback address", auth: true, listen: "[::]:0", networks: "10.20.0.0/16,::1/128",
			want: []string{`level=INFO msg="identity headers (X-NMP-Principal-*) are trusted from: 10.20.0.0/16, ::1/128"`,
				`level=WARN msg="` + loopback + `; Coffer also listens on [::]:0 for other hosts`}},
		{name: "localhost by name", auth: true, listen: "localhost:0",
			want:   []string{`level=INFO msg="` + loopback + `"`},
			absent: []string{"level=WARN msg=\"coffer.auth.trusted_header_networks includes loopback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.auth {
				env["NMP_AUTH_ENABLED"] = "true"
			}
			if tt.networks != "" {
				env["COFFER_TRUSTED_HEADER_NETWORKS"] = tt.networks
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			cfg, err := config.Load(config.Flags{DataDir: t.TempDir(), Listen: tt.listen}, lookup)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			s, err := New(context.Background(), cfg, NewLogger(cfg.Coffer.Log, logs), lookup)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			out := logs.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no line with\n%s\nin\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("%q in\n%s", a, out)
				}
			}
		})
	}
}
