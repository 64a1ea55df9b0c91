package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

// rawRequest sends one HTTP/1.1 request on c and reads its response.
func rawRequest(c net.Conn, br *bufio.Reader, method, path string, header ...string) (*http.Response, string, error) {
	req := method + " " + path + " HTTP/1.1\r\nHost: coffer\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return nil, "", err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// TestWriteTimeoutCutsSlowClient: a client whose request body trickles in
// for longer than coffer.http.write_timeout_seconds (though within the read
// timeout) gets no answer: the connection is closed. With a longer write
// timeout the same client is answered.
func TestWriteTimeoutCutsSlowClient(t *testing.T) {
	tests := []struct {
		write    string
		answered bool
	}{
		{"1", false},
		{"10", true},
	}
	for _, tt := range tests {
		t.Run("write timeout "+tt.write+"s", func(t *testing.T) {
			ts := start(t, map[string]string{"COFFER_HTTP_WRITE_TIMEOUT_SECONDS": tt.write,
				"COFFER_HTTP_READ_TIMEOUT_SECONDS": "10"}, "")
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			body := `{"name":"slow","value":"v"}`
			fmt.Fprintf(c, "POST %s/default/secrets HTTP/1.1\r\nHost: coffer\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", base, len(body))
			began := time.Now()
			for i := range len(body) { // about 2.5 s in all
				if _, err := io.WriteString(c, body[i:i+1]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2500 * time.Millisecond / time.Duration(len(body)))
			}
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			switch {
			case tt.answered && (err != nil || res.StatusCode != 201):
				t.Errorf("after %v: %v %v, want 201", time.Since(began), res, err)
			case !tt.answered && err == nil:
				t.Errorf("answered %d after %v; want the connection closed", res.StatusCode, time.Since(began))
			case !tt.answered && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset"):
				t.Errorf("got %v, want the connection closed", err)
			}
		})
	}
}

// TestOversizedHeaderIs431: a request whose headers exceed
// coffer.http.max_header_bytes (plus the 4 KiB net/http adds for the request
// line and its buffer) gets 431; one within it is served.
func TestOversizedHeaderIs431(t *testing.T) {
	ts := start(t, map[string]string{"COFFER_HTTP_MAX_HEADER_BYTES": "4096"}, "")
	tests := []struct {
		pad    int
		status int
	}{
		{3000, 200},
		{4096 + 4096 + 1, 431},
		{64 << 10, 431},
	}
	for _, tt := range tests {
		req, err := http.NewRequest("GET", ts.URL+"/health/live", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("a", tt.pad))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("pad %d: %v", tt.pad, err)
		}
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("header of %d bytes: %d, want %d", tt.pad, res.StatusCode, tt.status)
		}
	}
}

// TestIdleConnectionClosed: a keep-alive connection serves further requests
// while it is used, and once it carries nothing for
// coffer.http.idle_timeout_seconds the server closes it.
func TestIdleConnectionClosed(t *testing.T) {
	ts := start(t, map[string]string{"COFFER_HTTP_IDLE_TIMEOUT_SECONDS": "1"}, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 3 { // reused within the idle timeout
		res, body, err := rawRequest(c, br, "GET", "/health/live")
		if err != nil || res.StatusCode != 200 || body != `{"status":"live"}` {
			t.Fatalf("request %d on the kept-alive connection: %v %q %v", i, res, body, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	idleSince := time.Now().Add(-300 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := br.Read(make([]byte, 1))
	idle := time.Since(idleSince)
	if n != 0 || err != io.EOF {
		t.Fatalf("read %d bytes, %v; want the server to close the connection", n, err)
	}
	if idle < 900*time.Millisecond {
		t.Errorf("closed after %v idle; the idle timeout is 1 s", idle)
	}
}

// TestRotationOutlastsWriteTimeout: key rotation may take longer than the
// write timeout (each secret is re-sealed through the key provider); its
// answer still arrives, while an ordinary request that takes as long is
// cut off.
func TestRotationOutlastsWriteTimeout(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, map[string]string{}, dir) // development key
	expect(t, ts.do(t, "POST", base+"/default/secrets", `{"name":"r0","value":"v0"}`), 201, meta("r0"))
	ts.stop()

	vault := transittest.New(t)
	ts = start(t, map[string]string{
		"COFFER_HTTP_WRITE_TIMEOUT_SECONDS": "1",
		"NMP_SECRETS_ENCRYPTION": `{"current_provider":"v","providers":{"vault":{"v":{"address":"` +
			vault.URL + `","token":"` + vault.Token() + `","timeout_seconds":10}}}}`,
	}, dir)
	vault.SetDelay(1500 * time.Millisecond) // every Transit call outlasts the write timeout

	began := time.Now()
	expect(t, rotate(t, ts), 202, `{"rotated_secrets":1,"success":true,"skipped_secrets":0,"failed_secrets":[],"failed_count":0,"rotated_versions":1,"deleted_secrets_rotated":0}`)
	if d := time.Since(began); d < time.Second {
		t.Fatalf("rotation took %v, not longer than the write timeout: the test proves nothing", d)
	}
	_, err := http.Post(ts.URL+base+"/default/secrets", "application/json", strings.NewReader(`{"name":"r1","value":"v1"}`))
	if err == nil {
		t.Error("a create that outlasted the write timeout was answered")
	}
}
