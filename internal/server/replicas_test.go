package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/openapi/openapitest"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// The replica tests run real `coffer serve` processes on one PostgreSQL
// database, so that a replica can be killed with SIGKILL mid-write.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// cofferBinary builds cmd/coffer once per test run.
func cofferBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coffer-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "coffer")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/coffer").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// replica is one `coffer serve` process.
type replica struct {
	testServer
	cmd *exec.Cmd
}

var listenRe = regexp.MustCompile(`address=(127\.0\.0\.1:\d+)`)

// startReplica runs `coffer serve` with env and waits until it listens.
func startReplica(t *testing.T, env map[string]string) *replica {
	t.Helper()
	cmd := exec.Command(cofferBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		r.URL = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("replica did not start")
	}
	return r
}

// replicaEnv configures a fresh schema and secret_key providers; current
// names the provider that wraps new values.
func replicaEnv(dsn, current string) map[string]string {
	return map[string]string{
		"COFFER_DATABASE_DSN": dsn,
		"NMP_SECRETS_ENCRYPTION": `{"current_provider":"` + current + `","providers":{"secret_key":{` +
			`"k1":{"value":"` + testKEK + `"},"k2":{"value":"` + newKEK + `"}}}}`,
	}
}

func startReplicas(t *testing.T, n int, env map[string]string) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); rs[i] = startReplica(t, env) }() // migrations race on purpose
	}
	wg.Wait()
	return rs
}

func TestReplicasBehaveAsOne(t *testing.T) {
	rs := startReplicas(t, 3, replicaEnv(pgtest.NewDSN(t), "k1"))
	pick := func(i int) *replica { return rs[i%len(rs)] }

	t.Run("racing creates give one 201", func(t *testing.T) {
		var created, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch pick(i).do(t, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"race","value":"v%d"}`, i)).Status {
				case 201:
					created.Add(1)
				case 409:
					conflicts.Add(1)
				}
			}()
		}
		wg.Wait()
		if created.Load() != 1 || conflicts.Load() != 29 {
			t.Errorf("created %d, conflicts %d", created.Load(), conflicts.Load())
		}
	})

	t.Run("concurrent patches end with one written value", func(t *testing.T) {
		rs[0].do(t, "POST", base+"/default/secrets", `{"name":"patched","value":"v0"}`)
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := pick(i).do(t, "PATCH", base+"/default/secrets/patched", fmt.Sprintf(`{"value":"w%d"}`, i)); r.Status != 200 {
					t.Errorf("patch: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		var first string
		for _, r := range rs {
			var v struct{ Value string }
			decode(t, r.do(t, "GET", base+"/default/secrets/patched/access", ""), &v)
			if !regexp.MustCompile(`^w\d+$`).MatchString(v.Value) || first != "" && v.Value != first {
				t.Errorf("replica sees %q (first saw %q)", v.Value, first)
			}
			first = v.Value
		}
	})

	t.Run("a delete is seen at once everywhere", func(t *testing.T) {
		rs[1].do(t, "POST", base+"/default/secrets", `{"name":"gone","value":"v"}`)
		if r := rs[2].do(t, "DELETE", base+"/default/secrets/gone", ""); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		for _, r := range rs {
			expect(t, r.do(t, "GET", base+"/default/secrets/gone/access", ""), 404, `{"detail":"Secret default/gone not found"}`)
		}
	})
}

// TestRotationUnderLoadAcrossReplicas rotates from k1 to k2 on two replicas
// at once while a third keeps writing: no write is lost, counts split, and
// every value stays readable.
func TestRotationUnderLoadAcrossReplicas(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	old := startReplica(t, replicaEnv(dsn, "k1"))
	const n = 300
	want := sync.Map{}
	for i := range n {
		v := fmt.Sprintf("orig-%d", i)
		if r := old.do(t, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"s%d","value":"%s"}`, i, v)); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		want.Store(i, v)
	}
	old.cmd.Process.Signal(syscall.SIGTERM)
	old.cmd.Wait()

	rs := startReplicas(t, 3, replicaEnv(dsn, "k2"))
	ctx, stop := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	writers.Add(1)
	go func() { // PATCHes and deletes through the third replica during rotation
		defer writers.Done()
		for j := 0; ctx.Err() == nil; j++ {
			i := rand.IntN(n)
			v := fmt.Sprintf("new-%d-%d", i, j)
			if rs[2].do(t, "PATCH", fmt.Sprintf("%s/default/secrets/s%d", base, i), `{"value":"`+v+`"}`).Status == 200 {
				want.Store(i, v)
			}
		}
	}()
	results := make([]struct {
		Rotated     int  `json:"rotated_secrets"`
		Success     bool `json:"success"`
		Skipped     int  `json:"skipped_secrets"`
		FailedCount int  `json:"failed_count"`
	}, 2)
	var rot sync.WaitGroup
	for k := range 2 {
		rot.Add(1)
		go func() {
			defer rot.Done()
			decode(t, rs[k].do(t, "POST", "/apis/secrets/v2/rotate-encryption-keys", ""), &results[k])
		}()
	}
	rot.Wait()
	stop()
	writers.Wait()
	for k, res := range results {
		if !res.Success || res.FailedCount != 0 || res.Rotated+res.Skipped > n {
			t.Errorf("rotation %d: %+v", k, res)
		}
	}
	if total := results[0].Rotated + results[1].Rotated; total > n || total == 0 {
		t.Errorf("rotated %d + %d, want at most %d in total", results[0].Rotated, results[1].Rotated, n)
	}
	var again struct {
		Rotated int `json:"rotated_secrets"`
		Skipped int `json:"skipped_secrets"`
	}
	decode(t, rs[0].do(t, "POST", "/apis/secrets/v2/rotate-encryption-keys", ""), &again)
	if again.Rotated != 0 || again.Skipped != n {
		t.Errorf("second pass rotated %d skipped %d, want 0 and %d", again.Rotated, again.Skipped, n)
	}
	for i := range n {
		v, _ := want.Load(i)
		expect(t, rs[i%3].do(t, "GET", fmt.Sprintf("%s/default/secrets/s%d/access", base, i), ""), 200,
			fmt.Sprintf(`{"name":"s%d","workspace":"default","value":"%s"}`, i, v))
	}
}

// TestKilledReplicaLosesNoAcknowledgedWrite kills a replica with SIGKILL
// under a write load; every write it acknowledged must be readable, with its
// value, through another replica.
func TestKilledReplicaLosesNoAcknowledgedWrite(t *testing.T) {
	env := replicaEnv(pgtest.NewDSN(t), "k1")
	rs := startReplicas(t, 2, env)
	var acked sync.Map
	var writers sync.WaitGroup
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; ; i++ {
				name, value := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("value-%d-%d", w, i)
				r, err := tryDo(t, rs[0].URL, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"%s","value":"%s"}`, name, value))
				if err != nil {
					return // the replica is gone
				}
				if r == 201 {
					acked.Store(name, value)
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	rs[0].cmd.Process.Kill()
	writers.Wait()
	count := 0
	acked.Range(func(k, v any) bool {
		count++
		expect(t, rs[1].do(t, "GET", base+"/default/secrets/"+k.(string)+"/access", ""), 200,
			fmt.Sprintf(`{"name":"%s","workspace":"default","value":"%s"}`, k, v))
		return true
	})
	if count == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	t.Logf("%d acknowledged writes verified after SIGKILL", count)
}

// tryDo is do without failing the test on transport errors; a complete
// response must still match the OpenAPI document.
func tryDo(t *testing.T, url, method, path, body string) (int, error) {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		openapitest.CheckT(t, req, res.StatusCode, res.Header, b)
	}
	return res.StatusCode, err
}
