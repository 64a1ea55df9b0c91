package sqlite

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The crash test kills a process that writes through a real Store with
// SIGKILL, at a random moment, many times over the same file, and checks
// after each kill that every acknowledged write survived, every
// acknowledged version is still readable, and that no write that failed,
// or was never made, is there.
//
// The child is this test binary run again (-test.run=^TestCrashChild$) with
// crashChildEnv naming the database file. Its writers each own their secret
// names and write them one after the other, so for each name the parent
// knows the order of the writes. The child reports on stdout, one line per
// write(2), so that every line written before the kill reaches the parent:
//
//	try <name> <op> <arg>               before calling the Store
//	ok <name> <op> <arg> <version>      the call returned nil: acknowledged
//	err <name> <op> <arg> <why>         the call returned an error
//
// op is create or update (arg: the value, also the ciphertext stored,
// unique to each write; version: the version it made), bin (arg: the bin
// id it moved the secret to) or restore (arg: the bin id it restored from).

const (
	crashChildEnv = "COFFER_CRASH_CHILD_DB"   // database file; set in the child only
	crashIterEnv  = "COFFER_CRASH_CHILD_ITER" // iteration number, part of every name
	crashWS       = "crash"
	crashKeep     = 1 << 20 // no version is pruned: every acknowledged one must stay
)

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	path := filepath.Join(t.TempDir(), "coffer.db")
	known := map[string]string{} // every name ever tried → its state after the last kill ("" absent)
	const iterations = 20
	var n crashCounts
	for iter := range iterations {
		delay := 50*time.Millisecond + rand.N(350*time.Millisecond)
		lines := runAndKill(t, path, iter, delay)
		hist := parseCrashLog(t, lines)
		useStore := iter%2 == 0
		stored := readCrashDB(t, path, !useStore, func(st *Store) { checkThroughStore(t, st, hist) })
		for name, h := range hist {
			n.add(h, stored[name])
			if err := h.check(stored[name]); err != nil {
				t.Fatalf("iteration %d: %s: %v", iter, name, err)
			}
			known[name] = stored[name].String()
		}
		for name, got := range stored {
			if _, ok := hist[name]; !ok && got.String() != known[name] {
				t.Fatalf("iteration %d: %s is %s, want %q as after the previous kill (or never written)",
					iter, name, got, known[name])
			}
		}
		for name, want := range known {
			if _, ok := stored[name]; !ok && want != "" {
				t.Fatalf("iteration %d: %s, stored before, is gone", iter, name)
			}
		}
		t.Logf("iteration %d: killed after %v: %d lines, %d names", iter, delay.Round(time.Millisecond), len(lines), len(hist))
	}
	t.Logf("%+v, %d names", n, len(known))
	if n.Acked == 0 || n.Failed == 0 || n.Binned == 0 || n.Restored == 0 || n.Versions == 0 {
		t.Fatalf("%+v: some kind of write was never acknowledged or failed: the test checked less than it claims", n)
	}
}

// crashCounts sums what the test checked, to show it checked something.
type crashCounts struct {
	Acked, Failed, InFlight, InFlightStored, Versions, Binned, Restored int
}

func (n *crashCounts) add(h *crashHistory, got *crashSecret) {
	n.Acked += h.acked
	n.Failed += len(h.failed)
	n.Versions += len(h.versions)
	n.Binned += h.binned
	n.Restored += h.restored
	if h.inFlight != nil {
		n.InFlight++
		if h.inFlightIn(got) {
			n.InFlightStored++ // committed, killed before the acknowledgement
		}
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
	// progressed closes once the child has reported a refused write and a
	// restore from the bin (the kinds that come last in its workers'
	// sequences): the random delay counts from there, so even on a loaded
	// machine every kill comes after each kind of write (created, refused,
	// binned, restored, updated) has been reported, and the final tally
	// cannot come up empty.
	progressed := make(chan struct{})
	var lines []string
	read := make(chan error)
	go func(progress chan struct{}) {
		var sawErr, sawRestore bool
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
				continue
			}
			line := sc.Text()
			sawErr = sawErr || strings.HasPrefix(line, "err ")
			sawRestore = sawRestore || strings.HasPrefix(line, "ok ") && strings.Contains(line, " restore ")
			if sawErr && sawRestore && progress != nil {
				close(progress)
				progress = nil
			}
			lines = append(lines, sc.Text())
		}
		read <- sc.Err()
	}(progressed)
	select {
	case <-ready:
		select {
		case <-progressed:
		case <-time.After(20 * time.Second):
		}
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

// crashOp is one write a child reported.
type crashOp struct{ op, arg string }

// crashHistory is what a child reported about one name.
type crashHistory struct {
	versions                map[int64]string // acknowledged version → its value
	current                 int64            // the last acknowledged version, 0 if none
	binID                   string           // the bin id after the last acknowledged write; "" live
	exists                  bool             // some create was acknowledged
	inFlight                *crashOp         // a write tried but not answered
	failed                  []string         // values of the writes that returned an error
	acked, binned, restored int
}

// parseCrashLog reads the child's lines into one history per name.
func parseCrashLog(t *testing.T, lines []string) map[string]*crashHistory {
	t.Helper()
	hist := map[string]*crashHistory{}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 4 {
			t.Fatalf("child: unexpected line %q", line)
		}
		h := hist[f[1]]
		if h == nil {
			h = &crashHistory{versions: map[int64]string{}}
			hist[f[1]] = h
		}
		kind, op := f[0], crashOp{f[2], f[3]}
		switch {
		case kind == "try" && h.inFlight == nil:
			h.inFlight = &op
		case kind == "ok" && h.inFlight != nil && op == *h.inFlight && len(f) == 5:
			version, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				t.Fatalf("child: line %q: %v", line, err)
			}
			h.ack(op, version)
		case kind == "err" && h.inFlight != nil && op == *h.inFlight:
			h.failed, h.inFlight = append(h.failed, op.arg), nil
		default:
			t.Fatalf("child: line %q out of order (in flight %v)", line, h.inFlight)
		}
	}
	return hist
}

// ack records an acknowledged write, which made version (or, for bin and
// restore, left it).
func (h *crashHistory) ack(op crashOp, version int64) {
	h.inFlight = nil
	h.acked++
	switch op.op {
	case "create", "update":
		h.versions[version], h.current, h.exists = op.arg, version, true
	case "bin":
		h.binID = op.arg
		h.binned++
	case "restore":
		h.binID = ""
		h.restored++
	}
}

// check compares what the database holds for the name (nil: nothing) with
// the history: every acknowledged version with its value, the state of the
// last acknowledged write, or of the write in flight if it committed, and
// nothing of a failed write.
func (h *crashHistory) check(got *crashSecret) error {
	if got == nil {
		if h.exists {
			return fmt.Errorf("lost: its acknowledged versions %v are gone", h.versions)
		}
		return nil
	}
	for v, want := range h.versions {
		if got.versions[v] != want {
			return fmt.Errorf("version %d holds %q, want the acknowledged %q (%s)", v, got.versions[v], want, got)
		}
	}
	for _, f := range h.failed {
		if slices.Contains(slices.Collect(maps.Values(got.versions)), f) {
			return fmt.Errorf("holds %q, whose write failed (%s)", f, got)
		}
	}
	if int64(len(got.versions)) != got.current {
		return fmt.Errorf("has %d versions up to %d: a hole or an erased version (%s)", len(got.versions), got.current, got)
	}
	if got.current == h.current && got.binID == h.binID || h.inFlightIn(got) {
		return nil
	}
	return fmt.Errorf("is %s; want version %d in bin %q as acknowledged, or the write in flight %v", got, h.current, h.binID, h.inFlight)
}

// inFlightIn reports whether got is the state the write in flight (if
// any) makes from the last acknowledged one: it committed, and the kill came
// before its acknowledgement.
func (h *crashHistory) inFlightIn(got *crashSecret) bool {
	o := h.inFlight
	switch {
	case o == nil || got == nil:
		return false
	case o.op == "create" || o.op == "update":
		return got.binID == h.binID && got.current == h.current+1 && got.versions[got.current] == o.arg
	case o.op == "bin":
		return got.binID == o.arg && got.current == h.current
	}
	return got.binID == "" && got.current == h.current // restore
}

// crashSecret is one name's row and versions as the database holds them.
type crashSecret struct {
	binID    string // "" live
	current  int64
	versions map[int64]string // stored values
}

func (c *crashSecret) String() string {
	if c == nil {
		return ""
	}
	vs := slices.Sorted(maps.Keys(c.versions))
	return fmt.Sprintf("{bin %q, current %d, versions %v}", c.binID, c.current, vs)
}

// readCrashDB opens the database left by a killed child, checks its
// integrity and returns every secret of the crash workspace by name, live
// or in the bin. It reads through a Store, as a restarted Coffer would
// (which checkpoints the WAL when closed), and hands it to also, or when
// readOnly through a read-only connection, which leaves the WAL for the next
// child to recover.
func readCrashDB(t *testing.T, path string, readOnly bool, also func(*Store)) map[string]*crashSecret {
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
		also(st)
		db = st.reader
	}
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	rows, err := db.Query(`SELECT s.id, s.name, coalesce(s.deleted_id, ''), s.current_version, v.version, v.ciphertext
		FROM secrets AS s JOIN secret_versions AS v ON v.secret_id = s.id AND v.ciphertext IS NOT NULL
		WHERE s.workspace = ?1 ORDER BY s.id`, crashWS)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored, ids := map[string]*crashSecret{}, map[string]int64{}
	for rows.Next() {
		var id, version int64
		var name string
		var ct []byte
		c := &crashSecret{versions: map[int64]string{}}
		if err := rows.Scan(&id, &name, &c.binID, &c.current, &version, &ct); err != nil {
			t.Fatal(err)
		}
		if other, ok := ids[name]; ok && other != id {
			t.Fatalf("%s is stored twice (ids %d and %d): a writer owns its name, so it is never live and binned at once", name, other, id)
		}
		if stored[name] == nil {
			stored[name], ids[name] = c, id
		}
		stored[name].versions[version] = string(ct)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return stored
}

// checkThroughStore reads every acknowledged version of the names in hist
// as the API does: GetVersion for a live secret, GetDeleted for a bin
// entry, as the last acknowledged write left it (unless one is in flight).
func checkThroughStore(t *testing.T, st *Store, hist map[string]*crashHistory) {
	t.Helper()
	for name, h := range hist {
		if h.inFlight != nil && (h.inFlight.op == "bin" || h.inFlight.op == "restore") || !h.exists {
			continue // which of the two states it is in is the raw read's to check
		}
		got := map[int64]string{}
		if h.binID == "" {
			for v := range h.versions {
				r, err := st.GetVersion(ctx, crashWS, name, v)
				if err != nil {
					t.Fatalf("GetVersion(%s, %d) after the kill: %v", name, v, err)
				}
				got[v] = string(r.Sealed.Ciphertext)
			}
		} else {
			_, vs, err := st.GetDeleted(ctx, crashWS, h.binID, secrets.Now())
			if err != nil {
				t.Fatalf("GetDeleted(%s) of %s after the kill: %v", h.binID, name, err)
			}
			for _, v := range vs {
				got[v.Version] = string(v.Sealed.Ciphertext)
			}
		}
		for v, want := range h.versions {
			if got[v] != want {
				t.Fatalf("%s version %d reads %q after the kill, want the acknowledged %q", name, v, got[v], want)
			}
		}
	}
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
	// write is meant to get, nil when it is meant to succeed. call returns
	// the version the write made or left.
	write := func(name, op, arg string, want error, call func() (int64, error)) {
		report("try %s %s %s", name, op, arg)
		version, err := call()
		switch {
		case err == nil:
			report("ok %s %s %s %d", name, op, arg, version)
		case want != nil && errors.Is(err, want):
			report("err %s %s %s %s", name, op, arg, strings.ReplaceAll(err.Error(), " ", "_"))
		default:
			report("unexpected %s %s %s %v", name, op, arg, err) // the parent fails on it
		}
		if (err == nil) != (want == nil) {
			report("unexpected %s %s %s outcome %v, want %v", name, op, arg, err, want)
		}
	}
	create := func(name, val string, want error) {
		write(name, "create", val, want, func() (int64, error) {
			r, err := st.CreateSecret(ctx, secret(crashWS, name, val))
			return r.Version, err
		})
	}
	update := func(name, val string) {
		s := value(val)
		write(name, "update", val, nil, func() (int64, error) {
			r, err := st.UpdateSecret(ctx, crashWS, name, secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: crashKeep})
			return r.Version, err
		})
	}
	bin := func(name, id string) {
		write(name, "bin", id, nil, func() (int64, error) {
			now := secrets.Now()
			return 0, st.DeleteSecret(ctx, crashWS, name, secrets.SecretDelete{BinID: id, DeletedAt: now, PurgeAt: now.Add(time.Hour)})
		})
	}
	restore := func(name, id string) {
		write(name, "restore", id, nil, func() (int64, error) {
			r, err := st.RestoreDeleted(ctx, crashWS, id, secrets.BinRestore{UpdatedAt: secrets.Now(), Now: secrets.Now()})
			return r.Version, err
		})
	}
	report("ready")
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			var binID string
			for seq := 0; time.Now().Before(deadline); seq++ {
				val := fmt.Sprintf("v%s.%d.%d", iter, w, seq)
				switch name := fmt.Sprintf("u%s.%d", iter, w); {
				case w%4 < 2: // creator: new names, and every 4th tries the last one again
					if seq%4 == 3 {
						create(fmt.Sprintf("c%s.%d.%d", iter, w, seq-1), val, secrets.ErrAlreadyExists)
					} else {
						create(fmt.Sprintf("c%s.%d.%d", iter, w, seq), val, nil)
					}
				case seq == 0: // the others own one name, created first
					create(name, val, nil)
				case w%4 == 2 && seq%3 == 1: // binner: update, to the bin, back
					binID = fmt.Sprintf("b%s.%d.%d", iter, w, seq)
					bin(name, binID)
				case w%4 == 2 && seq%3 == 2:
					restore(name, binID)
				default: // updater: a new version each time
					update(name, val)
				}
			}
		})
	}
	wg.Wait()
}
