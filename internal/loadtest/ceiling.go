package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CeilingBody is a SecretValue-shaped JSON body of exactly n bytes (or the
// smallest such body if n is smaller), so the ceiling moves as many bytes per
// response as Coffer's access does.
func CeilingBody(n int) []byte {
	v := map[string]string{"name": "s0000000", "workspace": "bench-00000000", "value": ""}
	base, _ := json.Marshal(v)
	v["value"] = strings.Repeat("x", max(n-len(base), 0))
	b, _ := json.Marshal(v)
	return b
}

// CeilingHandler answers every request with body and the headers Coffer's
// access sends, doing no other work: what remains is net/http plus the
// generator, the most any Go HTTP service can reach on this machine.
func CeilingHandler(body []byte) http.Handler {
	size := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Cache-Control"] = []string{"no-store"}
		h["Content-Length"] = []string{size}
		_, _ = w.Write(body)
	})
}

// ServeCeiling is the hidden `coffer bench ceiling-server` process: it listens
// on a kernel-chosen loopback port, prints its base URL as the first line of
// out, and serves until ctx ends.
func ServeCeiling(ctx context.Context, out io.Writer, bodyBytes int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: CeilingHandler(CeilingBody(bodyBytes)), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(out, "http://%s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startCeiling runs the ceiling in its own process. In-process it would share
// the generator's Go scheduler, GC and GOMAXPROCS, and goroutine hand-offs
// inside one runtime are cheaper than the kernel scheduling two processes:
// the ceiling would then be measured under easier conditions than Coffer,
// which always runs as a separate process, and the ratios would flatter the
// generator and understate Coffer.
func startCeiling(exe, dir string, bodyBytes int) (*child, string, error) {
	c, stdout, err := startChildPiped(exe, []string{"bench", "ceiling-server", "--body-bytes", strconv.Itoa(bodyBytes)}, filepath.Join(dir, "ceiling.log"))
	if err != nil {
		return nil, "", err
	}
	base, err := readLine(bufio.NewReader(stdout), c, 15*time.Second)
	stdout.Close()
	if err != nil || !strings.HasPrefix(base, "http://") {
		_ = c.stop()
		return nil, "", fmt.Errorf("ceiling server: %q: %v", base, err)
	}
	return c, base, nil
}

// startChildPiped is startChild with the child's stdout readable. It uses its
// own pipe rather than Cmd.StdoutPipe, whose reader Wait closes underneath us.
func startChildPiped(exe string, args []string, logPath string) (*child, *os.File, error) {
	c, err := prepareChild(exe, args, nil, logPath)
	if err != nil {
		return nil, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		c.logFile.Close()
		return nil, nil, err
	}
	c.cmd.Stdout = w
	err = c.begin(c.logFile)
	w.Close() // the child holds its own copy
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return c, r, nil
}
