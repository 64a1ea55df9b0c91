package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// yamlFor renders a dotted key and value as nested YAML ("a.b.c", 1 →
// "a:\n  b:\n    c: 1\n").
func yamlFor(key string, v int) string {
	var b strings.Builder
	parts := strings.Split(key, ".")
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i == len(parts)-1 {
			fmt.Fprintf(&b, " %d", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestIntKeysMatchTheFile: each coffer.http key, declared once in httpKeys,
// has its default, is read from the file under its dotted name (so the
// declaration and the struct's yaml tags agree), is overridden by its
// environment variable, and below its minimum stops startup naming it.
func TestIntKeysMatchTheFile(t *testing.T) {
	for _, k := range httpKeys {
		t.Run(k.key, func(t *testing.T) {
			c, err := Load(Flags{}, env(mergeHome(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if got := *k.field(c); got != k.def {
				t.Errorf("default %d, want %d", got, k.def)
			}
			file := Flags{ConfigFile: writeFile(t, yamlFor(k.key, k.def+7))}
			c, err = Load(file, env(mergeHome(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if got := *k.field(c); got != k.def+7 {
				t.Errorf("from the file: %d, want %d", got, k.def+7)
			}
			if len(c.Warnings) > 0 && strings.Contains(strings.Join(c.Warnings, "\n"), "unknown configuration key") {
				t.Errorf("the file key is unknown to the decoder: %v", c.Warnings)
			}
			c, err = Load(file, env(mergeHome(map[string]string{k.env: fmt.Sprint(k.def + 9)})))
			if err != nil {
				t.Fatal(err)
			}
			if got := *k.field(c); got != k.def+9 {
				t.Errorf("%s over the file: %d, want %d", k.env, got, k.def+9)
			}
			_, err = Load(Flags{}, env(mergeHome(map[string]string{k.env: fmt.Sprint(k.min - 1)})))
			want := fmt.Sprintf("%s must be at least %d, got %d", k.key, k.min, k.min-1)
			if err == nil || err.Error() != want {
				t.Errorf("below the minimum: %v, want %q", err, want)
			}
		})
	}
}

// TestHTTPDefaults: the limits a fresh configuration serves with
// (docs/configuration.md, "coffer").
func TestHTTPDefaults(t *testing.T) {
	c, err := Load(Flags{}, env(mergeHome(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := HTTP{ReadHeaderTimeoutSeconds: 10, ReadTimeoutSeconds: 30, WriteTimeoutSeconds: 60,
		IdleTimeoutSeconds: 120, MaxHeaderBytes: 65536, MaxInFlight: 1024}
	if c.Coffer.HTTP != want {
		t.Errorf("got %+v\nwant %+v", c.Coffer.HTTP, want)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings with the defaults: %v", c.Warnings)
	}
}

// TestWriteTimeoutShorterThanRead: a write timeout below the read timeout
// starts, with a warning that says what goes wrong.
func TestWriteTimeoutShorterThanRead(t *testing.T) {
	tests := []struct {
		read, write string
		warn        bool
	}{
		{"30", "60", false},
		{"30", "30", false},
		{"30", "10", true},
	}
	for _, tt := range tests {
		c, err := Load(Flags{}, env(mergeHome(map[string]string{
			"COFFER_HTTP_READ_TIMEOUT_SECONDS": tt.read, "COFFER_HTTP_WRITE_TIMEOUT_SECONDS": tt.write})))
		if err != nil {
			t.Fatal(err)
		}
		want := "coffer.http.write_timeout_seconds (10) is shorter than coffer.http.read_timeout_seconds (30): " +
			"a request whose body takes longer than 10 s to arrive is read but gets no answer"
		if got := slices.Contains(c.Warnings, want); got != tt.warn {
			t.Errorf("read %s write %s: warnings %q", tt.read, tt.write, c.Warnings)
		}
	}
}
