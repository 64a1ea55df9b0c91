package config

import (
	"os"
	"strings"
	"testing"
)

// platformFixture is a NeMo Platform configuration in the shape the
// platform's Helm chart renders (service.host 0.0.0.0, port 8080, JSON logs).
const platformFixture = "testdata/nemo-platform-config.yaml"

// TestServiceSectionPrecedence: the platform's service.* keys give the
// listen address and log format only where coffer.listen and
// coffer.log.format (file, variable, flag) are not set; missing parts fall
// back to Coffer's defaults (docs/configuration.md, "service").
func TestServiceSectionPrecedence(t *testing.T) {
	tests := []struct {
		name       string
		file       string // YAML; "fixture" means platformFixture
		env        map[string]string
		flag       string
		listen     string
		format     string
		listenKey  string
		listenNote bool
	}{
		{name: "platform config alone", file: "fixture",
			listen: "0.0.0.0:8080", format: "json", listenKey: "service.host/service.port", listenNote: true},
		{name: "COFFER_LISTEN wins over service", file: "fixture", env: map[string]string{"COFFER_LISTEN": "127.0.0.1:9001"},
			listen: "127.0.0.1:9001", format: "json", listenKey: "coffer.listen"},
		{name: "--listen wins over service", file: "fixture", flag: "127.0.0.1:9002",
			listen: "127.0.0.1:9002", format: "json", listenKey: "coffer.listen"},
		{name: "COFFER_LOG_FORMAT wins over service", file: "fixture", env: map[string]string{"COFFER_LOG_FORMAT": "text"},
			listen: "0.0.0.0:8080", format: "text", listenKey: "service.host/service.port", listenNote: true},
		{name: "coffer keys in the same file win",
			file:   "coffer:\n  listen: 127.0.0.1:7000\n  log: {format: text}\nservice:\n  host: 0.0.0.0\n  port: 8080\n  log_format: json\n",
			listen: "127.0.0.1:7000", format: "text", listenKey: "coffer.listen"},
		{name: "coffer.log.level alone leaves the format to service",
			file:   "coffer:\n  log: {level: debug}\nservice:\n  log_format: json\n",
			listen: "127.0.0.1:8080", format: "json", listenKey: "coffer.listen"},
		{name: "port only keeps the loopback host", file: "service:\n  port: 9090\n",
			listen: "127.0.0.1:9090", format: "text", listenKey: "service.host/service.port", listenNote: true},
		{name: "host only keeps port 8080", file: "service:\n  host: 0.0.0.0\n",
			listen: "0.0.0.0:8080", format: "text", listenKey: "service.host/service.port", listenNote: true},
		{name: "quoted port from a template", file: "service:\n  host: 0.0.0.0\n  port: \"9091\"\n",
			listen: "0.0.0.0:9091", format: "text", listenKey: "service.host/service.port", listenNote: true},
		{name: "IPv6 host", file: "service:\n  host: \"::\"\n  port: 8443\n",
			listen: "[::]:8443", format: "text", listenKey: "service.host/service.port", listenNote: true},
		{name: "no service section", listen: "127.0.0.1:8080", format: "text", listenKey: "coffer.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := Flags{Listen: tt.flag}
			switch tt.file {
			case "":
			case "fixture":
				flags.ConfigFile = platformFixture
			default:
				flags.ConfigFile = writeFile(t, tt.file)
			}
			c, err := Load(flags, env(mergeHome(tt.env)))
			if err != nil {
				t.Fatal(err)
			}
			if c.Coffer.Listen != tt.listen || c.Coffer.Log.Format != tt.format || c.ListenKey() != tt.listenKey {
				t.Errorf("listen %q (%s) format %q, want %q (%s) %q",
					c.Coffer.Listen, c.ListenKey(), c.Coffer.Log.Format, tt.listen, tt.listenKey, tt.format)
			}
			note := "listen address " + tt.listen + " comes from service.host and service.port (coffer.listen is not set)"
			if got := contains(c.Notes, note); got != tt.listenNote {
				t.Errorf("note %q logged = %v, want %v; notes %q", note, got, tt.listenNote, c.Notes)
			}
		})
	}
}

// TestPlatformFixtureOtherSettings: the rest of the rendered platform
// configuration is read as before: the chart's key variable for the
// provider, the reference-only auth keys noted as ignored, other services'
// sections silently skipped (no warning).
func TestPlatformFixtureOtherSettings(t *testing.T) {
	c, err := Load(Flags{ConfigFile: platformFixture}, env(mergeHome(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Secrets.Encryption; p.CurrentProvider != "default" || p.Providers.SecretKey["default"].FromEnv != "NMP_SECRETS_DEFAULT_ENCRYPTION_KEY" {
		t.Errorf("encryption %+v", p)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q", c.Warnings)
	}
	for _, k := range []string{"port", "policy_decision_point_provider", "embedded_pdp_bundle_path", "policy_data_refresh_interval", "bundle_cache_seconds"} {
		if !contains(c.Notes, "auth."+k+" belongs to the reference's external policy engine and is ignored") {
			t.Errorf("no note for auth.%s; notes %q", k, c.Notes)
		}
	}
	if ws, name := c.NGC(); ws != "system" || name != "ngc-api-key" {
		t.Errorf("ngc %s/%s", ws, name)
	}
}

func TestServiceSectionErrors(t *testing.T) {
	fixture, err := os.ReadFile(platformFixture)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string
	}{
		{name: "port out of range", file: "service:\n  port: 70000\n", want: "service.port must be between 0 and 65535, got 70000"},
		{name: "port not a number", file: "service:\n  port: http\n", want: "service.port must be a port number (line 2)"},
		{name: "port a mapping", file: "service:\n  port: {number: 1}\n", want: "service.port must be a port number"},
		{name: "unknown log format", file: "service:\n  log_format: xml\n", want: `service.log_format must be text or json, got "xml"`},
		{name: "COFFER_LISTEN set to empty still overrides", file: string(fixture), env: map[string]string{"COFFER_LISTEN": ""},
			want: `coffer.listen must be host:port, got ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Flags{ConfigFile: writeFile(t, tt.file)}, env(mergeHome(tt.env)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	// A bad service key that Coffer's own keys override does not matter.
	file := writeFile(t, "coffer:\n  listen: 127.0.0.1:1\n  log: {format: text}\nservice:\n  port: 70000\n  log_format: xml\n")
	if _, err := Load(Flags{ConfigFile: file}, env(mergeHome(nil))); err != nil {
		t.Errorf("overridden service keys: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
