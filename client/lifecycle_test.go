package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// seen is what a test server recorded of the one request it got.
type seen struct {
	method, uri, body, ifMatch, ctype string
	hasIfMatch                        bool
}

// recorder serves status and body with header, and records the request.
func recorder(t *testing.T, status int, header http.Header, body string) (*Client, *seen) {
	t.Helper()
	got := &seen{}
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, has := r.Header["If-Match"]
		*got = seen{r.Method, r.URL.RequestURI(), string(b), strings.Join(r.Header["If-Match"], ","),
			r.Header.Get("Content-Type"), has}
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return c, got
}

func TestLifecycleRequests(t *testing.T) {
	ctx := context.Background()
	from := time.Date(2026, 1, 31, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		call       func(*Client) error
		wantMethod string
		wantURI    string
		wantBody   string
	}{
		{"list with options", func(c *Client) error {
			_, err := c.ListSecretsWith(ctx, "w", ListOptions{Page: 2, PageSize: 5, Sort: "-name", Search: "Key",
				Filter: Filter{NameLike: "prod-%", DescriptionLike: "%hf%", CreatedFrom: from}})
			return err
		}, "GET", "/apis/secrets/v2/workspaces/w/secrets?filter%5Bcreated_at%5D%5Bgte%5D=2026-01-31T11%3A00%3A00Z&" +
			"filter%5Bdescription%5D%5B%24like%5D=%25hf%25&filter%5Bname%5D%5B%24like%5D=prod-%25&" +
			"page=2&page_size=5&search=Key&sort=-name", ""},
		{"list exact name and bounds", func(c *Client) error {
			_, err := c.ListSecretsWith(ctx, "w", ListOptions{Filter: Filter{Name: "a b", UpdatedTo: from, CreatedTo: from, UpdatedFrom: from}})
			return err
		}, "GET", "/apis/secrets/v2/workspaces/w/secrets?filter%5Bcreated_at%5D%5Blte%5D=2026-01-31T11%3A00%3A00Z&" +
			"filter%5Bname%5D=a+b&filter%5Bupdated_at%5D%5Bgte%5D=2026-01-31T11%3A00%3A00Z&" +
			"filter%5Bupdated_at%5D%5Blte%5D=2026-01-31T11%3A00%3A00Z", ""},
		{"list without options", func(c *Client) error { _, err := c.ListSecretsWith(ctx, "w", ListOptions{}); return err },
			"GET", "/apis/secrets/v2/workspaces/w/secrets", ""},
		{"versions", func(c *Client) error { _, err := c.ListVersions(ctx, "w", "a/b", 1, 20, "version"); return err },
			"GET", "/apis/secrets/v2/workspaces/w/secrets/a%2Fb/versions?page=1&page_size=20&sort=version", ""},
		{"versions defaults", func(c *Client) error { _, err := c.ListVersions(ctx, "w", "n", 0, 0, ""); return err },
			"GET", "/apis/secrets/v2/workspaces/w/secrets/n/versions", ""},
		{"access version", func(c *Client) error { _, err := c.AccessSecretVersion(ctx, "w", "n", 3); return err },
			"GET", "/apis/secrets/v2/workspaces/w/secrets/n/access?version=3", ""},
		{"access current", func(c *Client) error { _, err := c.AccessSecretVersion(ctx, "w", "n", 0); return err },
			"GET", "/apis/secrets/v2/workspaces/w/secrets/n/access", ""},
		{"restore version", func(c *Client) error { _, err := c.RestoreVersion(ctx, "w", "n", 2); return err },
			"POST", "/apis/secrets/v2/workspaces/w/secrets/n/versions/2/restore", ""},
		{"destroy version", func(c *Client) error { return c.DestroyVersion(ctx, "w", "n", 7) },
			"DELETE", "/apis/secrets/v2/workspaces/w/secrets/n/versions/7", ""},
		{"deleted list", func(c *Client) error {
			_, err := c.ListDeleted(ctx, "w", ListOptions{Sort: "deleted_at", Search: "x"})
			return err
		}, "GET", "/apis/secrets/v2/workspaces/w/deleted-secrets?search=x&sort=deleted_at", ""},
		{"deleted restore", func(c *Client) error { _, err := c.RestoreDeleted(ctx, "w", "ab12", ""); return err },
			"POST", "/apis/secrets/v2/workspaces/w/deleted-secrets/ab12/restore", ""},
		{"deleted restore renamed", func(c *Client) error { _, err := c.RestoreDeleted(ctx, "w", "ab12", "n2"); return err },
			"POST", "/apis/secrets/v2/workspaces/w/deleted-secrets/ab12/restore", `{"name":"n2"}`},
		{"deleted purge", func(c *Client) error { return c.PurgeDeleted(ctx, "w", "x/y") },
			"DELETE", "/apis/secrets/v2/workspaces/w/deleted-secrets/x%2Fy", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := recorder(t, http.StatusNotFound, nil, `{"detail":"x"}`)
			tt.call(c)
			if got.method != tt.wantMethod || got.uri != tt.wantURI {
				t.Errorf("request %s %s\nwant    %s %s", got.method, got.uri, tt.wantMethod, tt.wantURI)
			}
			if got.body != tt.wantBody {
				t.Errorf("body = %q, want %q", got.body, tt.wantBody)
			}
			if want := map[bool]string{true: "application/json"}[tt.wantBody != ""]; got.ctype != want {
				t.Errorf("Content-Type = %q, want %q", got.ctype, want)
			}
		})
	}
}

func TestIfMatchHeader(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(*Client) error
		want string // "" for no header
	}{
		{"update quoted", func(c *Client) error {
			_, err := c.UpdateSecretWith(ctx, "w", "n", SecretUpdate{}, IfMatch(`"abc"`))
			return err
		}, `"abc"`},
		{"update unquoted", func(c *Client) error {
			_, err := c.UpdateSecretWith(ctx, "w", "n", SecretUpdate{}, IfMatch("abc"))
			return err
		}, `"abc"`},
		{"delete any", func(c *Client) error { return c.DeleteSecretWith(ctx, "w", "n", IfMatch("*")) }, `*`},
		{"empty never matches", func(c *Client) error { return c.DeleteSecretWith(ctx, "w", "n", IfMatch("")) }, `""`},
		{"weak kept", func(c *Client) error { return c.DeleteSecretWith(ctx, "w", "n", IfMatch(`W/"a"`)) }, `W/"a"`},
		{"two tags", func(c *Client) error { return c.DeleteSecretWith(ctx, "w", "n", IfMatch("a"), IfMatch("b")) }, `"a","b"`},
		{"restore", func(c *Client) error { _, err := c.RestoreVersion(ctx, "w", "n", 1, IfMatch("t")); return err }, `"t"`},
		{"destroy", func(c *Client) error { return c.DestroyVersion(ctx, "w", "n", 1, IfMatch("t")) }, `"t"`},
		{"update without", func(c *Client) error { _, err := c.UpdateSecret(ctx, "w", "n", SecretUpdate{}); return err }, ""},
		{"delete without", func(c *Client) error { return c.DeleteSecret(ctx, "w", "n") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := recorder(t, http.StatusPreconditionFailed, nil, `{"detail":"Precondition failed: secret w/n has changed"}`)
			err := tt.call(c)
			if got.ifMatch != tt.want || got.hasIfMatch != (tt.want != "") {
				t.Errorf("If-Match = %q (sent: %v), want %q", got.ifMatch, got.hasIfMatch, tt.want)
			}
			if !errors.Is(err, ErrPreconditionFailed) {
				t.Errorf("err = %v, want ErrPreconditionFailed", err)
			}
		})
	}
}

func TestIfMatchDoesNotLeakIntoLaterCalls(t *testing.T) {
	c, got := recorder(t, http.StatusNoContent, nil, "")
	if err := c.DeleteSecretWith(context.Background(), "w", "n", IfMatch("a")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSecret(context.Background(), "w", "n"); err != nil {
		t.Fatal(err)
	}
	if got.hasIfMatch {
		t.Errorf("the second call sent If-Match %q", got.ifMatch)
	}
}

func TestSentinelErrors(t *testing.T) {
	all := []error{ErrNotFound, ErrConflict, ErrPreconditionFailed}
	for status, want := range map[int]error{404: ErrNotFound, 409: ErrConflict, 412: ErrPreconditionFailed, 422: nil, 500: nil} {
		err := error(newAPIError(status, []byte(`{"detail":"d"}`)))
		for _, sentinel := range all {
			if got := errors.Is(err, sentinel); got != (sentinel == want) {
				t.Errorf("errors.Is(%d, %v) = %v", status, sentinel, got)
			}
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != status {
			t.Errorf("errors.As(%d) = %v", status, apiErr)
		}
	}
}

func TestSecretAnswersKeepTheETag(t *testing.T) {
	ctx := context.Background()
	const body = `{"name":"n","workspace":"w","description":null,"created_at":"2026-05-01T12:00:00.000000Z",` +
		`"updated_at":"2026-05-01T12:00:00.000000Z","current_version":4}`
	calls := map[string]func(*Client) (*Secret, error){
		"create": func(c *Client) (*Secret, error) { return c.CreateSecret(ctx, "w", SecretCreate{Name: "n", Value: "v"}) },
		"get":    func(c *Client) (*Secret, error) { return c.GetSecret(ctx, "w", "n") },
		"update": func(c *Client) (*Secret, error) { return c.UpdateSecret(ctx, "w", "n", SecretUpdate{}) },
		"update with": func(c *Client) (*Secret, error) {
			return c.UpdateSecretWith(ctx, "w", "n", SecretUpdate{}, IfMatch("x"))
		},
		"restore version": func(c *Client) (*Secret, error) { return c.RestoreVersion(ctx, "w", "n", 1) },
		"restore deleted": func(c *Client) (*Secret, error) { return c.RestoreDeleted(ctx, "w", "id", "") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			c, _ := recorder(t, http.StatusOK, http.Header{"Etag": {`"e1"`}}, body)
			s, err := call(c)
			if err != nil {
				t.Fatal(err)
			}
			if s.ETag != `"e1"` || s.CurrentVersion == nil || *s.CurrentVersion != 4 || string(s.Raw) != body {
				t.Errorf("secret = %+v (current_version %v)", s, s.CurrentVersion)
			}
		})
	}
}

func TestSecretWithoutVersionsOrETag(t *testing.T) {
	c, _ := recorder(t, http.StatusOK, nil,
		`{"name":"ngc-api-key","workspace":"system","description":"d","created_at":null,"updated_at":null,"current_version":null}`)
	s, err := c.GetSecret(context.Background(), "system", "ngc-api-key")
	if err != nil {
		t.Fatal(err)
	}
	if s.CurrentVersion != nil || s.ETag != "" {
		t.Errorf("current_version %v, ETag %q; want nil and empty", s.CurrentVersion, s.ETag)
	}
}

func TestAccessSecretVersionReadsTheVersionHeader(t *testing.T) {
	for header, want := range map[string]int64{"3": 3, "": 0} {
		h := http.Header{}
		if header != "" {
			h.Set("Coffer-Secret-Version", header)
		}
		c, _ := recorder(t, http.StatusOK, h, `{"name":"n","workspace":"w","value":"hunter2"}`)
		v, err := c.AccessSecretVersion(context.Background(), "w", "n", 3)
		if err != nil {
			t.Fatal(err)
		}
		if v.Version != want || v.Value != "hunter2" {
			t.Errorf("header %q: version %d, value ok %v; want %d", header, v.Version, v.Value == "hunter2", want)
		}
		if strings.Contains(v.String(), "hunter2") {
			t.Errorf("String() = %q contains the value", v.String())
		}
	}
}

func TestDecodeVersionAndDeletedPages(t *testing.T) {
	ctx := context.Background()
	const versions = `{"data":[{"version":2,"created_at":"2026-05-01T12:00:01.000000Z","created_by":"alice","state":"enabled"},` +
		`{"version":1,"created_at":"2026-05-01T12:00:00","state":"destroyed"}],` +
		`"pagination":{"page":1,"page_size":10,"current_page_size":2,"total_pages":1,"total_results":2}}`
	c, _ := recorder(t, http.StatusOK, nil, versions)
	vp, err := c.ListVersions(ctx, "w", "n", 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	v2, v1 := vp.Data[0], vp.Data[1]
	if v2.Version != 2 || v2.State != VersionEnabled || v2.CreatedBy == nil || *v2.CreatedBy != "alice" ||
		!v2.CreatedAt.Equal(time.Date(2026, 5, 1, 12, 0, 1, 0, time.UTC)) {
		t.Errorf("version 2 = %+v", v2)
	}
	if v1.State != VersionDestroyed || v1.CreatedBy != nil || v1.CreatedAt.IsZero() || string(vp.Raw) != versions {
		t.Errorf("version 1 = %+v", v1)
	}

	const deleted = `{"data":[{"id":"ab","name":"n","workspace":"w","current_version":3,` +
		`"created_at":"2026-05-01T12:00:00.000000Z","updated_at":"2026-05-02T12:00:00.000000Z",` +
		`"deleted_at":"2026-05-03T12:00:00.000000Z","deleted_by":"bob","purge_at":"2026-05-10T12:00:00.000000Z"}],` +
		`"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`
	c, _ = recorder(t, http.StatusOK, nil, deleted)
	dp, err := c.ListDeleted(ctx, "w", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := dp.Data[0]
	if d.ID != "ab" || d.CurrentVersion != 3 || d.Description != nil || *d.DeletedBy != "bob" ||
		d.PurgeAt.Sub(d.DeletedAt) != 7*24*time.Hour || d.UpdatedAt.Sub(d.CreatedAt) != 24*time.Hour {
		t.Errorf("deleted = %+v", d)
	}
	if !strings.HasPrefix(string(d.Raw), `{"id":"ab"`) || dp.Pagination.TotalResults != 1 {
		t.Errorf("Raw %s, pagination %+v", d.Raw, dp.Pagination)
	}
}

func TestDecodeRotationCounts(t *testing.T) {
	c, _ := recorder(t, http.StatusAccepted, nil, `{"rotated_secrets":2,"success":false,"skipped_secrets":1,`+
		`"failed_secrets":[{"workspace":"w","name":"n","version":3,"error":"e"}],"failed_count":1,`+
		`"rotated_versions":5,"deleted_secrets_rotated":4}`)
	r, err := c.RotateEncryptionKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.RotatedVersions != 5 || r.DeletedSecretsRotated != 4 || r.FailedSecrets[0].Version != 3 {
		t.Errorf("result = %+v", r)
	}
}

func TestLifecycleRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func(*Client) error
		wantCalls int32
	}{
		{"versions", func(c *Client) error { _, err := c.ListVersions(ctx, "w", "n", 0, 0, ""); return err }, 3},
		{"access version", func(c *Client) error { _, err := c.AccessSecretVersion(ctx, "w", "n", 1); return err }, 3},
		{"deleted list", func(c *Client) error { _, err := c.ListDeleted(ctx, "w", ListOptions{}); return err }, 3},
		{"list with", func(c *Client) error { _, err := c.ListSecretsWith(ctx, "w", ListOptions{Search: "x"}); return err }, 3},
		{"restore version", func(c *Client) error { _, err := c.RestoreVersion(ctx, "w", "n", 1); return err }, 1},
		{"destroy version", func(c *Client) error { return c.DestroyVersion(ctx, "w", "n", 1) }, 1},
		{"deleted restore", func(c *Client) error { _, err := c.RestoreDeleted(ctx, "w", "i", ""); return err }, 1},
		{"deleted purge", func(c *Client) error { return c.PurgeDeleted(ctx, "w", "i") }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			tt.call(c)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tt.wantCalls)
			}
		})
	}
}
