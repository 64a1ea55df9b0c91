package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the run started and must stop: the Coffer under test or
// the ceiling server.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{}
	err     error  // exit status, valid after done is closed
	log     string // file holding the child's stderr, for diagnostics
	logFile *os.File
}

// startChild runs exe with its stderr in logPath. The child gets the parent's
// environment plus env, so PATH, HOME and the like keep working.
func startChild(exe string, args, env []string, logPath string) (*child, error) {
	c, err := prepareChild(exe, args, env, logPath)
	if err != nil {
		return nil, err
	}
	return c, c.begin(c.logFile)
}

func prepareChild(exe string, args, env []string, logPath string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	return &child{cmd: cmd, done: make(chan struct{}), log: logPath, logFile: logf}, nil
}

func (c *child) begin(logf *os.File) error {
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() {
		c.err = c.cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	return nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks for a graceful shutdown first, as an operator would, so the
// server's shutdown path runs; it kills only if that hangs.
func (c *child) stop() error {
	select {
	case <-c.done:
		return c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.exitError()
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("pid %d ignored SIGTERM for 20s and was killed", c.pid())
	}
}

// exitError ignores death by our own SIGTERM, which is the normal end.
func (c *child) exitError() error {
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return c.err
}

// logTail is the end of the child's stderr, for error messages.
func (c *child) logTail() string {
	data, _ := os.ReadFile(c.log)
	s := strings.TrimSpace(string(data))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// freePort asks the kernel for an unused loopback port. Another process could
// take it before Coffer binds it; on a benchmark machine that race is
// negligible and startup would then fail loudly, not silently.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls url until it answers 200, the child exits, or the timeout.
func waitReady(ctx context.Context, url string, c *child, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if readyOnce(ctx, url) {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("exited before ready (%v); its log:\n%s", c.err, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v; its log:\n%s", timeout, c.logTail())
		case <-tick.C:
		}
	}
}

func readyOnce(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// readLine waits for the first stdout line of a child (the ceiling announces
// its address this way, which avoids the free-port race).
func readLine(r *bufio.Reader, c *child, timeout time.Duration) (string, error) {
	lc := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		lc <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lc:
		if line == "" {
			return "", fmt.Errorf("no address announced; its log:\n%s", c.logTail())
		}
		return line, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no address announced within %v", timeout)
	}
}
