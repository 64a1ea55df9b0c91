package keys

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", path, got, want)
	}
}

func TestDevKeyCreate(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "nmp-encryption-key.txt")
	c, log := newCapture()
	k, err := LoadOrCreateDevKey(path, true, log)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name() != "" {
		t.Errorf("Name = %q, want the development key name", k.Name())
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != 44 || bytes.ContainsAny(text, "\r\n ") {
		t.Errorf("file is %q: want 44 base64 characters, no newline", text)
	}
	if b64(keyOf(t, k)) != string(text) {
		t.Error("returned key differs from the file")
	}
	checkMode(t, path, 0o600)
	checkMode(t, filepath.Join(root, "a"), 0o700)
	checkMode(t, filepath.Join(root, "a", "b"), 0o700)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temporary file left?)", len(entries))
	}
	assertNoKey(t, "log", c.all(), keyOf(t, k))

	// Loading again returns the same key and never rewrites the file.
	k2, err := LoadOrCreateDevKey(path, true, nil)
	if err != nil || !bytes.Equal(keyOf(t, k2), keyOf(t, k)) {
		t.Fatalf("reload: %v", err)
	}
	k3, err := LoadOrCreateDevKey(path, false, nil)
	if err != nil || !bytes.Equal(keyOf(t, k3), keyOf(t, k)) {
		t.Fatalf("read-only load: %v", err)
	}
}

func TestDevKeyConcurrentCreators(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "d", "key.txt")
		const n = 16
		keys := make([][]byte, n)
		errs := make([]error, n)
		c, log := newCapture()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				k, err := LoadOrCreateDevKey(path, true, log)
				errs[i] = err
				if err == nil {
					keys[i] = k.key
				}
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d creator %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: creator %d got a different key", round, i)
			}
		}
		created, lost := 0, 0
		for _, m := range c.at(slog.LevelInfo) {
			switch m {
			case "created a new development key":
				created++
			case "development key was created concurrently by another process; using it":
				lost++
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d creators won, want exactly 1", round, created)
		}
		t.Logf("round %d: %d creators lost the link race and loaded the winner's key", round, lost)
		text, _ := os.ReadFile(path)
		if string(text) != b64(keys[0]) {
			t.Fatalf("round %d: file does not hold the shared key", round)
		}
		checkMode(t, path, 0o600)
		checkMode(t, filepath.Dir(path), 0o700)
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
			t.Errorf("round %d: %d entries left in the directory", round, len(entries))
		}
	}
}

func TestDevKeyLoadErrors(t *testing.T) {
	dir := t.TempDir()
	key := seqKey(2)
	missing := filepath.Join(dir, "missing.txt")
	tests := []struct {
		name     string
		content  string
		mode     os.FileMode
		create   bool
		wantErr  string
		wantWarn bool
	}{
		{"missing, no create", "", 0, false,
			"secrets.local_key_creation_path: " + missing + " does not exist; the development key is only created when no provider is configured", false},
		{"malformed", "not base64!", 0o600, true, "secrets.local_key_creation_path: not valid base64", false},
		{"trailing garbage", b64(key) + "x", 0o600, true, "secrets.local_key_creation_path: not valid base64", false},
		{"short", b64(key[:16]), 0o600, true, "secrets.local_key_creation_path: key is 16 bytes; at least 32 are required", false},
		{"empty", "", 0o600, true, "secrets.local_key_creation_path: key is 0 bytes; at least 32 are required", false},
		{"reference file with newline", b64(key) + "\n", 0o600, false, "", false},
		{"group readable", b64(key), 0o640, false, "", true},
		{"world readable", b64(key), 0o604, false, "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := missing
			if tt.mode != 0 {
				path = writeFile(t, dir, "k"+string(rune('a'+i)), tt.content, tt.mode)
			}
			c, log := newCapture()
			k, err := LoadOrCreateDevKey(path, tt.create, log)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				// A malformed file is never replaced.
				if tt.mode != 0 {
					if b, _ := os.ReadFile(path); string(b) != tt.content {
						t.Error("malformed key file was rewritten")
					}
				} else if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
					t.Error("file created although create was false")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(keyOf(t, k), key) {
				t.Error("wrong key")
			}
			warns := c.at(slog.LevelWarn)
			if tt.wantWarn != (len(warns) == 1) || (tt.wantWarn && !strings.Contains(warns[0], "readable by group or others")) {
				t.Errorf("warnings %q", warns)
			}
		})
	}
	if _, err := LoadOrCreateDevKey("", true, nil); err == nil ||
		err.Error() != "secrets.local_key_creation_path: not set" {
		t.Errorf("empty path: %v", err)
	}
}

func TestDevKeyCreateFailures(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "plain", "x", 0o600)
	// A parent that is a file cannot be created or read through.
	_, err := LoadOrCreateDevKey(filepath.Join(file, "key.txt"), true, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "secrets.local_key_creation_path: cannot ") {
		t.Errorf("parent is a file: %v", err)
	}
	// A dangling symbolic link is not silently replaced.
	link := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Skip(err)
	}
	_, err = LoadOrCreateDevKey(link, true, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot create "+link) {
		t.Errorf("dangling link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Error("key written through a dangling link")
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err = LoadOrCreateDevKey(filepath.Join(ro, "key.txt"), true, nil)
		want := "secrets.local_key_creation_path: cannot create " + filepath.Join(ro, "key.txt") + ": permission denied"
		if err == nil || err.Error() != want {
			t.Errorf("read-only dir: %v\nwant %s", err, want)
		}
	}
}
