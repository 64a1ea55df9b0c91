package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newTestClient serves h and returns a client for it with a negligible
// retry backoff.
func newTestClient(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := New(srv.URL+"/", opts...)
	c.backoff = time.Millisecond
	return c
}

func TestRetriesOnlyGET(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		call      func(*Client) error
		wantCalls int32
	}{
		{"GET 503", 503, func(c *Client) error { _, err := c.GetSecret(context.Background(), "w", "n"); return err }, 3},
		{"GET 502", 502, func(c *Client) error { _, err := c.ListSecrets(context.Background(), "w", 0, 0); return err }, 3},
		{"GET 504", 504, func(c *Client) error { _, err := c.AccessSecret(context.Background(), "w", "n"); return err }, 3},
		{"GET 500", 500, func(c *Client) error { _, err := c.GetWorkspace(context.Background(), "w"); return err }, 1},
		{"GET 404", 404, func(c *Client) error { _, err := c.ListMembers(context.Background(), "w"); return err }, 1},
		{"POST 503", 503, func(c *Client) error {
			_, err := c.CreateSecret(context.Background(), "w", SecretCreate{Name: "n", Value: "v"})
			return err
		}, 1},
		{"PATCH 503", 503, func(c *Client) error {
			_, err := c.UpdateSecret(context.Background(), "w", "n", SecretUpdate{})
			return err
		}, 1},
		{"DELETE 503", 503, func(c *Client) error { return c.DeleteSecret(context.Background(), "w", "n") }, 1},
		{"PUT 503", 503, func(c *Client) error { _, err := c.SetMember(context.Background(), "w", "p", nil); return err }, 1},
		{"rotate 503", 503, func(c *Client) error { _, err := c.RotateEncryptionKeys(context.Background()); return err }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"detail":"nope"}`)
			})
			err := tt.call(c)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("err = %v, want an APIError with status %d", err, tt.status)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestGETRecoversAfterTransientFailures(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"name":"n","workspace":"w","value":"v"}`)
	})
	got, err := c.AccessSecret(context.Background(), "w", "n")
	if err != nil || got.Value != "v" {
		t.Fatalf("AccessSecret = %v, %v; want value after two retries", got, err)
	}
}

func TestGETRetriesConnectionErrors(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the client sees a connection error
			}
			return
		}
		io.WriteString(w, `{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
	})
	if _, err := c.ListSecrets(context.Background(), "w", 1, 10); err != nil {
		t.Fatalf("ListSecrets after one dropped connection: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("server saw %d requests, want 2", calls.Load())
	}
}

func TestPOSTDoesNotRetryConnectionErrors(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	})
	_, err := c.CreateSecret(context.Background(), "w", SecretCreate{Name: "n", Value: "s3cret-value"})
	if err == nil {
		t.Fatal("CreateSecret succeeded on a dropped connection")
	}
	if strings.Contains(err.Error(), "s3cret-value") {
		t.Errorf("error %q contains the value", err)
	}
	if calls.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", calls.Load())
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c.backoff = time.Hour
	if _, err := c.GetSecret(ctx, "w", "n"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	tests := []struct {
		name string
		call func(*Client) error
		want string
	}{
		{"secret", func(c *Client) error { _, err := c.GetSecret(context.Background(), "a/b c", "x%y?z#"); return err },
			"/apis/secrets/v2/workspaces/a%2Fb%20c/secrets/x%25y%3Fz%23"},
		{"access", func(c *Client) error { _, err := c.AccessSecret(context.Background(), "ws", "../n"); return err },
			"/apis/secrets/v2/workspaces/ws/secrets/..%2Fn/access"},
		{"list", func(c *Client) error { _, err := c.ListSecrets(context.Background(), "-", 2, 5); return err },
			"/apis/secrets/v2/workspaces/-/secrets?page=2&page_size=5"},
		{"workspace", func(c *Client) error { _, err := c.GetWorkspace(context.Background(), "w/x"); return err },
			"/apis/entities/v2/workspaces/w%2Fx"},
		{"workspaces list", func(c *Client) error {
			_, err := c.ListWorkspaces(context.Background(), 0, 0, "-updated_at")
			return err
		},
			"/apis/entities/v2/workspaces?sort=-updated_at"},
		{"member", func(c *Client) error { _, err := c.RemoveMember(context.Background(), "w", "group:a b/c"); return err },
			"/apis/entities/v2/workspaces/w/members/group:a%20b%2Fc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.RequestURI()
				w.WriteHeader(http.StatusNotFound)
			})
			tt.call(c)
			if got != tt.want {
				t.Errorf("request URI = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIErrorRendering(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"string detail", 404, `{"detail":"Secret default/x not found"}`, "404 Secret default/x not found"},
		{"validation list", 422, `{"detail":[` +
			`{"type":"value_error","loc":["body","name"],"msg":"Value error, bad name","input":"x!"},` +
			`{"type":"missing","loc":["body","value"],"msg":"Field required"}]}`,
			"422 body.name: Value error, bad name\nbody.value: Field required"},
		{"numeric loc", 422, `{"detail":[{"type":"json_invalid","loc":["body",1000000],"msg":"JSON decode error","input":{},"ctx":{"error":"x"}}]}`,
			"422 body.1000000: JSON decode error"},
		{"object detail", 503, `{"detail":{"status":"not_ready"}}`, `503 {"status":"not_ready"}`},
		{"not JSON", 502, `<html>bad gateway</html>`, "502 Bad Gateway"},
		{"empty body", 500, ``, "500 Internal Server Error"},
		{"list of strings", 400, `{"detail":["a","b"]}`, `400 ["a","b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newAPIError(tt.status, []byte(tt.body))
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if string(err.Body) != tt.body {
				t.Errorf("Body = %q, want %q", err.Body, tt.body)
			}
		})
	}
}

func TestValidationItemsAreDecoded(t *testing.T) {
	err := newAPIError(422, []byte(`{"detail":[{"type":"value_error","loc":["body","roles",1],"msg":"m"}]}`))
	items, ok := err.Detail.([]ValidationItem)
	if !ok || len(items) != 1 {
		t.Fatalf("Detail = %#v, want one ValidationItem", err.Detail)
	}
	if items[0].Type != "value_error" || items[0].Location() != "body.roles.1" {
		t.Errorf("item = %+v", items[0])
	}
}

func TestRequestHeaders(t *testing.T) {
	var got http.Header
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}, WithBearerToken("tok"), WithHeader("X-NMP-Principal-Id", "service:jobs"))
	if err := c.DeleteSecret(context.Background(), "w", "n"); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"Authorization":      "Bearer tok",
		"X-Nmp-Principal-Id": "service:jobs",
		"Accept":             "application/json",
	} {
		if got.Get(key) != want {
			t.Errorf("%s = %q, want %q", key, got.Get(key), want)
		}
	}
}

func TestNoAuthorizationWithoutToken(t *testing.T) {
	var got http.Header
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}, WithBearerToken(""))
	c.DeleteSecret(context.Background(), "w", "n")
	if _, ok := got["Authorization"]; ok {
		t.Errorf("Authorization sent without a token: %q", got.Get("Authorization"))
	}
}

func TestRequestBodies(t *testing.T) {
	desc, value, empty := "d", "v", ""
	tests := []struct {
		name string
		call func(*Client) error
		want string
	}{
		{"update nothing", func(c *Client) error {
			_, err := c.UpdateSecret(context.Background(), "w", "n", SecretUpdate{})
			return err
		}, `{}`},
		{"update value", func(c *Client) error {
			_, err := c.UpdateSecret(context.Background(), "w", "n", SecretUpdate{Value: &value})
			return err
		}, `{"value":"v"}`},
		{"update empty description", func(c *Client) error {
			_, err := c.UpdateSecret(context.Background(), "w", "n", SecretUpdate{Description: &empty})
			return err
		}, `{"description":""}`},
		{"create", func(c *Client) error {
			_, err := c.CreateSecret(context.Background(), "w", SecretCreate{Name: "n", Value: "v"})
			return err
		}, `{"name":"n","value":"v"}`},
		{"create with description", func(c *Client) error {
			_, err := c.CreateSecret(context.Background(), "w", SecretCreate{Name: "n", Description: &desc, Value: "v"})
			return err
		}, `{"name":"n","description":"d","value":"v"}`},
		{"add member default role", func(c *Client) error {
			_, err := c.AddMember(context.Background(), "w", MemberCreate{Principal: "p"})
			return err
		}, `{"principal":"p"}`},
		{"add member no roles", func(c *Client) error {
			_, err := c.AddMember(context.Background(), "w", MemberCreate{Principal: "p", Roles: []string{}})
			return err
		}, `{"principal":"p","roles":[]}`},
		{"set member", func(c *Client) error {
			_, err := c.SetMember(context.Background(), "w", "p", []string{"Admin", "Viewer"})
			return err
		}, `{"roles":["Admin","Viewer"]}`},
		{"set member nil", func(c *Client) error { _, err := c.SetMember(context.Background(), "w", "p", nil); return err }, `{"roles":[]}`},
		{"workspace update nothing", func(c *Client) error {
			_, err := c.UpdateWorkspace(context.Background(), "w", WorkspaceUpdate{})
			return err
		}, `{}`},
		{"workspace create", func(c *Client) error {
			_, err := c.CreateWorkspace(context.Background(), WorkspaceCreate{Name: "w"})
			return err
		}, `{"name":"w"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, ctype string
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got, ctype = string(b), r.Header.Get("Content-Type")
				w.WriteHeader(http.StatusUnprocessableEntity)
			})
			tt.call(c)
			if got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
			if ctype != "application/json" {
				t.Errorf("Content-Type = %q", ctype)
			}
		})
	}
}

func TestDecodingKeepsRawAndReadsBothTimestampForms(t *testing.T) {
	const body = `{"data":[` +
		`{"name":"b","workspace":"w","created_at":"2026-05-01T12:34:56.123456Z","updated_at":"2026-05-01T12:34:56.123456Z"},` +
		`{"name":"a","workspace":"w","description":"x","created_at":"2026-05-01T12:34:56.5","updated_at":"2026-05-01T12:34:57"},` +
		`{"name":"ngc-api-key","workspace":"system","description":"d"}],` +
		`"pagination":{"page":1,"page_size":3,"current_page_size":3,"total_pages":2,"total_results":4}}`
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	page, err := c.ListSecrets(context.Background(), "w", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(page.Raw) != body {
		t.Errorf("page Raw = %s", page.Raw)
	}
	if page.Pagination.TotalPages != 2 || len(page.Data) != 3 {
		t.Fatalf("page = %+v", page.Pagination)
	}
	want := time.Date(2026, 5, 1, 12, 34, 56, 500_000_000, time.UTC)
	if a := page.Data[1]; a.CreatedAt == nil || !a.CreatedAt.Equal(want) || *a.Description != "x" {
		t.Errorf("zone-less item = %+v", a)
	}
	if ngc := page.Data[2]; ngc.CreatedAt != nil || ngc.UpdatedAt != nil {
		t.Errorf("NGC item timestamps = %v, %v; want nil", ngc.CreatedAt, ngc.UpdatedAt)
	}
	if got := string(page.Data[2].Raw); got != `{"name":"ngc-api-key","workspace":"system","description":"d"}` {
		t.Errorf("item Raw = %s", got)
	}
	var roundTrip map[string]any
	if err := json.Unmarshal(page.Data[0].Raw, &roundTrip); err != nil || roundTrip["name"] != "b" {
		t.Errorf("item Raw is not the item: %s", page.Data[0].Raw)
	}
}

func TestDecodeErrorsDoNotQuoteTheBody(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name":"n","workspace":"w","value":"hunter2`) // truncated
	})
	_, err := c.AccessSecret(context.Background(), "w", "n")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v; want an error without the value", err)
	}
}

func TestValueNotInFormattedRequests(t *testing.T) {
	v := "hunter2"
	for _, s := range []any{
		SecretCreate{Name: "n", Value: v},
		SecretUpdate{Value: &v},
		SecretValue{Name: "n", Workspace: "w", Value: v},
	} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, s); strings.Contains(got, v) {
				t.Errorf("%s of %T = %q contains the value", verb, s, got)
			}
		}
	}
}

func TestBaseURLPathPrefixIsKept(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	New(srv.URL+"/nmp/").DeleteSecret(context.Background(), "w", "n")
	if got != "/nmp/apis/secrets/v2/workspaces/w/secrets/n" {
		t.Errorf("path = %q", got)
	}
}
