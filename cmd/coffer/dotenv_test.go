package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name, text string
		want       []envEntry
		err        string
	}{
		{"plain", "A=1\nB = two words  \n", []envEntry{{"A", "1", 1}, {"B", "two words", 2}}, ""},
		{"comments and export", "# c\n\nexport A=x # trailing\nB=a#b\n", []envEntry{{"A", "x", 3}, {"B", "a#b", 4}}, ""},
		{"single quotes keep everything", "A='  x # \"y\" \\n\nz  '\nB=2", []envEntry{{"A", "  x # \"y\" \\n\nz  ", 1}, {"B", "2", 3}}, ""},
		{"double quote escapes", `A="a\"b\\c\n\t\$"`, []envEntry{{"A", "a\"b\\c\n\t$", 1}}, ""},
		{"shell quote of a quote", `A='it'\''s'`, []envEntry{{"A", "it's", 1}}, ""},
		{"empty", "A=\nB=''\n", []envEntry{{"A", "", 1}, {"B", "", 2}}, ""},
		{"no equals", "A=1\nJUST_A_KEY\n", nil, "line 2: expected KEY=VALUE"},
		{"bad key", "1A=x\n", nil, "line 1: a key is letters, digits and '_', not starting with a digit"},
		{"open quote", "A='secret-value\n", nil, "line 1: a single quote is not closed"},
		{"open double quote", "A=\"secret-value\n", nil, "line 2: a double quote is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDotenv(tt.text)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "secret-value") {
					t.Errorf("the error quotes the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d = %q=%q line %d, want %q=%q line %d", i, got[i].key, got[i].value, got[i].line, tt.want[i].key, tt.want[i].value, tt.want[i].line)
				}
			}
		})
	}
}

// awkwardValues are values a dotenv file must carry unchanged.
var awkwardValues = []string{
	"plain", "", " padded ", "multi\nline\n", "crlf\r\n", "'single' \"double\"", "a=b=c", "# not a comment",
	"back\\slash\\", "$HOME `cmd` ${X}", "ünïcødé ✓ 鍵", "tab\tand trailing '\\''", strings.Repeat("x'\n", 21845) + "y", // 64 KiB, the default limit
}

func TestDotenvRoundTrip(t *testing.T) {
	var b strings.Builder
	for i, v := range awkwardValues {
		q, err := formatDotenvValue(v)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(envKeyOf("key-"+string(rune('a'+i))) + "=" + q + "\n")
	}
	got, err := parseDotenv(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(awkwardValues) {
		t.Fatalf("%d entries, want %d", len(got), len(awkwardValues))
	}
	for i, v := range awkwardValues {
		if got[i].value != v {
			t.Errorf("value %d came back as %.40q, want %.40q", i, got[i].value, v)
		}
	}
	// The same file, sourced by a POSIX shell, gives the same values.
	for i, v := range awkwardValues {
		sh := exec.Command("sh")
		sh.Stdin = strings.NewReader(b.String() + "printf '%s' \"$" + got[i].key + "\"\n")
		out, err := sh.Output()
		if err != nil || string(out) != v {
			t.Errorf("sh read value %d as %.40q (%v), want %.40q", i, out, err, v)
		}
	}
	if _, err := formatDotenvValue("a\x00b"); err != errNUL {
		t.Errorf("NUL: %v", err)
	}
}

func TestNameRules(t *testing.T) {
	for name, key := range map[string]string{"hf-token": "HF_TOKEN", "my.key_1": "MY_KEY_1", "wandb-api-key": "WANDB_API_KEY"} {
		if got := envKeyOf(name); got != key {
			t.Errorf("envKeyOf(%q) = %q, want %q", name, got, key)
		}
	}
	for key, name := range map[string]string{"HF_TOKEN": "hf-token", "Wandb_Api_Key": "wandb-api-key", "OPENAI_API_KEY2": "openai-api-key2"} {
		if got := secretNameOf(key); got != name {
			t.Errorf("secretNameOf(%q) = %q, want %q", key, got, name)
		}
	}
}

func TestWithVarsReplacesExistingEntries(t *testing.T) {
	got := withVars([]string{"PATH=/bin", "HF_TOKEN=stale", "HOME=/root", "HF_TOKEN=also-stale"}, []string{"HF_TOKEN=fresh", "NEW=1"})
	want := []string{"PATH=/bin", "HOME=/root", "HF_TOKEN=fresh", "NEW=1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("withVars = %q, want %q (C's getenv reads the first entry of a key)", got, want)
	}
}
