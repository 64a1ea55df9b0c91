package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSlowClientsCannotExhaustServer holds many connections that never
// finish their headers (slowloris) and one request whose body trickles in:
// the header timeout closes the first kind, the in-flight bound answers 503
// instead of queueing, and ordinary requests keep being served.
func TestSlowClientsCannotExhaustServer(t *testing.T) {
	ts := start(t, map[string]string{
		"COFFER_HTTP_READ_HEADER_TIMEOUT_SECONDS": "1",
		"COFFER_HTTP_READ_TIMEOUT_SECONDS":        "3",
		"COFFER_HTTP_MAX_IN_FLIGHT":               "1",
	}, "")
	addr := strings.TrimPrefix(ts.URL, "http://")
	var slow []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /apis/secrets/v2/workspaces/default/secrets HTTP/1.1\r\nHost: x\r\n") // never finished
		slow = append(slow, c)
	}
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()
	began := time.Now()
	expect(t, ts.do(t, "GET", "/health/live", ""), 200, `{"status":"live"}`)
	expect(t, ts.do(t, "GET", base+"/default/secrets/x", ""), 404, `{"detail":"Secret default/x not found"}`)
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("requests took %v while slow clients were connected", d)
	}
	// The header timeout closes a slowloris connection.
	slow[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(slow[0]); err != nil {
		t.Errorf("slow connection was not closed by the server: %v", err)
	}

	// One request holds the only in-flight slot while its body trickles in.
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fmt.Fprintf(held, "POST /apis/secrets/v2/workspaces/default/secrets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)
	r := ts.do(t, "GET", base+"/default/secrets", "")
	expect(t, r, 503, `{"detail":"Server busy: too many requests in flight; retry shortly"}`)
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	expect(t, ts.do(t, "GET", "/health/ready", ""), 200, `{"status":"ready"}`)
	// The read timeout ends the trickling request and frees the slot.
	held.SetReadDeadline(time.Now().Add(6 * time.Second))
	io.ReadAll(held)
	expect(t, ts.do(t, "GET", base+"/default/secrets/x", ""), 404, `{"detail":"Secret default/x not found"}`)
}
