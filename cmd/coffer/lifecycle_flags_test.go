package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/client"
)

func TestSecretBodyAddsTheETagLast(t *testing.T) {
	tests := []struct {
		name, raw, etag, want string
	}{
		{"object", `{"name":"k","current_version":2}`, `"abc"`, `{"name":"k","current_version":2,"etag":"\"abc\""}`},
		{"trailing space", "{\"name\":\"k\"}\n", `"abc"`, `{"name":"k","etag":"\"abc\""}`},
		{"empty object", `{ }`, `"abc"`, `{ "etag":"\"abc\""}`},
		{"no etag", `{"name":"k"}`, "", `{"name":"k"}`},
		{"not an object", `[1]`, `"abc"`, `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(secretBody(&client.Secret{Raw: json.RawMessage(tt.raw), ETag: tt.etag}))
			if got != tt.want {
				t.Errorf("secretBody = %s, want %s", got, tt.want)
			}
			if tt.etag != "" && !json.Valid([]byte(got)) {
				t.Errorf("%s is not JSON", got)
			}
		})
	}
}

func TestConfirmedAcceptsOnlyYes(t *testing.T) {
	for answer, want := range map[string]bool{
		"y\n": true, "yes\n": true, " Y \n": true, "YES": true,
		"n\n": false, "\n": false, "": false, "yess\n": false, "no\n": false,
	} {
		var out bytes.Buffer
		if got := confirmed(strings.NewReader(answer), &out, "Sure? "); got != want {
			t.Errorf("answer %q: confirmed = %v, want %v", answer, got, want)
		}
		if !strings.HasPrefix(out.String(), "Sure? ") {
			t.Errorf("answer %q: prompt %q", answer, out.String())
		}
		if ends := strings.HasSuffix(answer, "\n"); ends == strings.HasSuffix(out.String(), "\n") {
			t.Errorf("answer %q: prompt output %q should end with a newline exactly when the answer did not", answer, out.String())
		}
	}
}

func TestVersionArg(t *testing.T) {
	for raw, want := range map[string]int64{"1": 1, "42": 42, "0": 0, "-1": 0, "x": 0, "": 0, "1.5": 0} {
		got, err := versionArg(raw, "N")
		if got != want || (err == nil) != (want > 0) {
			t.Errorf("versionArg(%q) = %d, %v", raw, got, err)
		}
	}
}
