package sqlite

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The crash test kills a process that writes through a real Store with
// SIGKILL, at a random moment, many times over the same file, and checks
// after each kill that every acknowledged write survived and that no write
// that failed, or was never made, is there.
//
// The child is this test binary run again (-test.run=^TestCrashChild$) with
// crashChildEnv naming the database file. Its writers each own their secret
// names and write them one after the other, so for each name the parent
// knows the order of the writes. The child reports on stdout, one line per
// write(2), so that every line written before the kill reaches the parent:
//
//	try <name> <value>        before calling the Store
//	ok <name> <value>         the call returned nil: acknowledged
//	err <name> <value> <why>  the call returned an error
//
// The value is also the ciphertext stored, unique to each write.

const (
	crashChildEnv = "COFFER_CRASH_CHILD_DB"   // database file; set in the child only
	crashIterEnv  = "COFFER_CRASH_CHILD_ITER" // iteration number, part of every name
	crashWS       = "crash"
)

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	path := filepath.Join(t.TempDir(), "coffer.db")
	known := map[string][]byte{} // every name ever tried → its value after the last kill (nil: absent)
	const iterations = 20
	acked, failed, inFlight, inFlightStored := 0, 0, 0, 0
	for iter := range iterations {
		delay := 50*time.Millisecond + rand.N(350*time.Millisecond)
		lines := runAndKill(t, path, iter, delay)
		hist := parseCrashLog(t, lines)
		stored := readCrashDB(t, path, iter%2 == 1)
		for name, h := range hist {
			acked += h.acked
			failed += len(h.failed)
			got, ok := stored[name]
			switch {
			case h.last != "" && !ok:
				t.Fatalf("iteration %d: %s lost: its write %s was acknowledged", iter, name, h.last)
			case ok && string(got) != h.last && string(got) != h.inFlight:
				t.Fatalf("iteration %d: %s holds %q; want the last acknowledged value %q or the one in flight %q (failed: %q)",
					iter, name, got, h.last, h.inFlight, h.failed)
			}
			if h.inFlight != "" {
				inFlight++
				if ok && string(got) == h.inFlight {
					inFlightStored++ // committed, killed before the acknowledgement
				}
			}
			known[name] = got
		}
		for name, got := range stored {
			if _, ok := hist[name]; !ok && !bytes.Equal(got, known[name]) {
				t.Fatalf("iteration %d: %s holds %q, want %q as after the previous kill (or never written)",
					iter, name, got, known[name])
			}
		}
		for name, want := range known {
			if _, ok := stored[name]; !ok && want != nil {
				t.Fatalf("iteration %d: %s, stored before, is gone", iter, name)
			}
		}
		t.Logf("iteration %d: killed after %v: %d lines, %d names", iter, delay.Round(time.Millisecond), len(lines), len(hist))
	}
	t.Logf("%d acknowledged writes, %d failed as expected, %d in flight at a kill (%d of them stored), %d names",
		acked, failed, inFlight, inFlightStored, len(known))
	if acked == 0 || failed == 0 {
		t.Fatal("the children acknowledged no write or none failed: the test checked nothing")
	}
}

// runAndKill starts a child writing to path, kills it with SIGKILL delay after
// it is ready and returns its stdout lines.
func runAndKill(t *testing.T, path string, iter int, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, fmt.Sprint(crashIterEnv, "=", iter))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var lines []string
	read := make(chan error)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				continue
			}
			lines = append(lines, sc.Text())
		}
		read <- sc.Err()
	}()
	select {
	case <-ready:
		time.Sleep(delay)
	case <-time.After(30 * time.Second):
		t.Error("child not ready after 30s")
	case err := <-read: // exited early: fails below
		go func() { read <- err }()
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Errorf("kill: %v", err)
	}
	if err := <-read; err != nil {
		t.Errorf("reading the child's output: %v", err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !ws.Signaled() {
		t.Fatalf("child did not die of the kill (%v); output:\n%s\n%s", err, strings.Join(lines, "\n"), stderr.Bytes())
	}
	return lines
}

// crashHistory is what a child reported about one name.
type crashHistory struct {
	last     string   // value of the last acknowledged write, "" if none
	inFlight string   // value of a write tried but not answered, "" if none
	failed   []string // values of the writes that returned an error
	acked    int
}

// parseCrashLog reads the child's lines into one history per name.
func parseCrashLog(t *testing.T, lines []string) map[string]*crashHistory {
	t.Helper()
	hist := map[string]*crashHistory{}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("child: unexpected line %q", line)
		}
		h := hist[f[1]]
		if h == nil {
			h = &crashHistory{}
			hist[f[1]] = h
		}
		switch kind, value := f[0], f[2]; {
		case kind == "try" && h.inFlight == "":
			h.inFlight = value
		case kind == "ok" && value == h.inFlight:
			h.last, h.inFlight = value, ""
			h.acked++
		case kind == "err" && value == h.inFlight:
			h.failed, h.inFlight = append(h.failed, value), ""
		default:
			t.Fatalf("child: line %q out of order (in flight %q)", line, h.inFlight)
		}
	}
	return hist
}

// readCrashDB opens the database left by a killed child, checks its
// integrity and returns every secret's ciphertext by name. It uses the
// Store, as a restarted Coffer would (which checkpoints the WAL when
// closed), or when readOnly a read-only connection, which leaves the WAL for
// the next child to recover.
func readCrashDB(t *testing.T, path string, readOnly bool) map[string][]byte {
	t.Helper()
	var db *sql.DB
	if readOnly {
		var err error
		if db, err = sql.Open("sqlite", "file:"+path+"?mode=ro"); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	} else {
		st, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatalf("reopen after kill: %v", err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		db = st.reader
	}
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	rows, err := db.Query(`SELECT s.name, v.ciphertext FROM secrets AS s
		JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.current_version
		WHERE s.workspace = ?1 AND s.deleted_id IS NULL`, crashWS)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string][]byte{}
	for rows.Next() {
		var name string
		var ct []byte
		if err := rows.Scan(&name, &ct); err != nil {
			t.Fatal(err)
		}
		stored[name] = ct
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestCrashChild is the child of TestCrashDurability; it does nothing in a
// normal test run. It writes until killed (or for 30 s at most).
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashDurability")
	}
	iter := os.Getenv(crashIterEnv)
	st, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.CreateWorkspace(ctx, workspace(crashWS), "")
	if err != nil && !errors.Is(err, secrets.ErrAlreadyExists) {
		t.Fatal(err)
	}
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // one write(2), unbuffered
	}
	// write runs one write of name and reports it; want is the error the
	// write is meant to get, nil when it is meant to succeed.
	write := func(name, value string, want error, call func() error) {
		report("try %s %s", name, value)
		err := call()
		switch {
		case err == nil:
			report("ok %s %s", name, value)
		case want != nil && errors.Is(err, want):
			report("err %s %s %s", name, value, strings.ReplaceAll(err.Error(), " ", "_"))
		default:
			report("unexpected %s %s %v", name, value, err) // the parent fails on it
		}
		if (err == nil) != (want == nil) {
			report("unexpected %s %s outcome %v, want %v", name, value, err, want)
		}
	}
	report("ready")
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for seq := 0; time.Now().Before(deadline); seq++ {
				val := fmt.Sprintf("v%s.%d.%d", iter, w, seq)
				if w%2 == 0 { // creator: new names, and every 8th tries the last one again
					name := fmt.Sprintf("c%s.%d.%d", iter, w, seq)
					var want error
					if seq%8 == 7 {
						name, want = fmt.Sprintf("c%s.%d.%d", iter, w, seq-1), secrets.ErrAlreadyExists
					}
					write(name, val, want, func() error {
						_, err := st.CreateSecret(ctx, secret(crashWS, name, val))
						return err
					})
					continue
				}
				// updater: one name, created first, then updated over and over
				name := fmt.Sprintf("u%s.%d", iter, w)
				if seq == 0 {
					write(name, val, nil, func() error {
						_, err := st.CreateSecret(ctx, secret(crashWS, name, val))
						return err
					})
					continue
				}
				s := value(val)
				write(name, val, nil, func() error {
					_, err := st.UpdateSecret(ctx, crashWS, name, secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now()})
					return err
				})
			}
		})
	}
	wg.Wait()
}
