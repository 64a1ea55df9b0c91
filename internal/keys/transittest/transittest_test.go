package transittest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends one request the way a Transit client would and returns the
// status and the decoded reply.
func post(t *testing.T, s *Server, path, token string, body map[string]string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, bytes.NewReader(b))
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func data(t *testing.T, reply map[string]any, field string) string {
	t.Helper()
	d, _ := reply["data"].(map[string]any)
	v, ok := d[field].(string)
	if !ok {
		t.Fatalf("no data.%s in %v", field, reply)
	}
	return v
}

// TestVaultShapes checks the double answers as Transit does: versioned
// ciphertexts, old versions readable after Rotate, and Vault's error shape.
func TestVaultShapes(t *testing.T) {
	s := New(t)
	const enc, dec = "/v1/transit/encrypt/nemo-platform-key", "/v1/transit/decrypt/nemo-platform-key"
	pt := base64.StdEncoding.EncodeToString([]byte("hello"))
	_, r := post(t, s, enc, s.Token(), map[string]string{"plaintext": pt})
	ct1 := data(t, r, "ciphertext")
	s.Rotate()
	_, r = post(t, s, enc, s.Token(), map[string]string{"plaintext": pt})
	ct2 := data(t, r, "ciphertext")
	if !strings.HasPrefix(ct1, "vault:v1:") || !strings.HasPrefix(ct2, "vault:v2:") {
		t.Fatalf("ciphertexts %q, %q", ct1, ct2)
	}
	for _, ct := range []string{ct1, ct2} {
		if _, r := post(t, s, dec, s.Token(), map[string]string{"ciphertext": ct}); data(t, r, "plaintext") != pt {
			t.Errorf("decrypt %q = %v", ct, r)
		}
	}
	tampered := ct1[:len(ct1)-4] + "AAA="
	for _, c := range []struct {
		path, token, field, value string
		status                    int
		msg                       string
	}{
		{enc, "hvs.wrong", "plaintext", pt, 403, "permission denied"},
		{dec, s.Token(), "ciphertext", tampered, 400, "cipher: message authentication failed"},
		{dec, s.Token(), "ciphertext", "vault:v9:" + ct1[9:], 400, "invalid ciphertext: invalid key version"},
		{dec, s.Token(), "ciphertext", "nope", 400, "invalid ciphertext: no prefix"},
		{"/v1/transit/encrypt/other", s.Token(), "plaintext", pt, 400, "encryption key not found"},
		{"/v1/other/encrypt/nemo-platform-key", s.Token(), "plaintext", pt, 404, "no handler for route"},
	} {
		status, r := post(t, s, c.path, c.token, map[string]string{c.field: c.value})
		errs, _ := r["errors"].([]any)
		if status != c.status || len(errs) != 1 || errs[0] != c.msg {
			t.Errorf("%s: %d %v, want %d %q", c.path, status, r, c.status, c.msg)
		}
	}
	if s.Requests() != 10 || s.Connections() != 1 {
		t.Errorf("requests %d, connections %d", s.Requests(), s.Connections())
	}
}

func TestStopRestart(t *testing.T) {
	s := New(t)
	url := s.URL
	s.Stop()
	if _, err := http.Post(url+"/v1/transit/encrypt/nemo-platform-key", "application/json", nil); err == nil {
		t.Fatal("stopped server answered")
	}
	s.Restart()
	if status, _ := post(t, s, "/v1/transit/encrypt/nemo-platform-key", s.Token(),
		map[string]string{"plaintext": "aGk="}); status != 200 || s.URL != url {
		t.Errorf("after restart: %d at %s", status, s.URL)
	}
}

func get(t *testing.T, s *Server, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestTokenLifecycle: issued tokens expire, renew up to their max TTL,
// refuse renewal when not renewable; logins issue tokens.
func TestTokenLifecycle(t *testing.T) {
	s := New(t)
	const enc = "/v1/transit/encrypt/nemo-platform-key"
	pt := map[string]string{"plaintext": base64.StdEncoding.EncodeToString([]byte("x"))}

	tok := s.IssueToken(TokenPolicy{TTL: time.Second, MaxTTL: 1500 * time.Millisecond, Renewable: true})
	if st, r := get(t, s, "/v1/auth/token/lookup-self", tok); st != 200 || r["data"].(map[string]any)["renewable"] != true {
		t.Fatalf("lookup-self: %d %v", st, r)
	}
	time.Sleep(600 * time.Millisecond)
	if st, r := post(t, s, "/v1/auth/token/renew-self", tok, nil); st != 200 || r["auth"].(map[string]any)["lease_duration"].(float64) != 1 {
		t.Fatalf("renew-self: %d %v", st, r)
	}
	time.Sleep(600 * time.Millisecond)
	if st, _ := post(t, s, enc, tok, pt); st != 200 {
		t.Errorf("renewed token refused: %d", st)
	}
	time.Sleep(400 * time.Millisecond) // past the 1.5 s max TTL
	if st, _ := post(t, s, enc, tok, pt); st != 403 {
		t.Errorf("expired token: %d", st)
	}
	if s.Renewals() != 1 {
		t.Errorf("renewals %d", s.Renewals())
	}

	fixed := s.IssueToken(TokenPolicy{TTL: time.Hour})
	if st, _ := post(t, s, "/v1/auth/token/renew-self", fixed, nil); st != 400 {
		t.Errorf("non-renewable renewal: %d", st)
	}

	s.EnableAppRole("approle", "r", "sid", TokenPolicy{TTL: time.Hour})
	s.EnableKubernetes("k8s", "coffer", "jwt", TokenPolicy{TTL: time.Hour})
	for _, c := range []struct {
		path string
		body map[string]string
		want int
	}{
		{"/v1/auth/approle/login", map[string]string{"role_id": "r", "secret_id": "sid"}, 200},
		{"/v1/auth/approle/login", map[string]string{"role_id": "r", "secret_id": "wrong"}, 400},
		{"/v1/auth/k8s/login", map[string]string{"role": "coffer", "jwt": "jwt"}, 200},
		{"/v1/auth/k8s/login", map[string]string{"role": "other", "jwt": "jwt"}, 400},
		{"/v1/auth/nope/login", map[string]string{}, 404},
	} {
		st, r := post(t, s, c.path, "", c.body)
		if st != c.want {
			t.Errorf("%s %v: %d", c.path, c.body, st)
			continue
		}
		if st == 200 {
			tok := r["auth"].(map[string]any)["client_token"].(string)
			if st, _ := post(t, s, enc, tok, pt); st != 200 {
				t.Errorf("login token refused: %d", st)
			}
		}
	}
	if s.Logins() != 2 {
		t.Errorf("logins %d", s.Logins())
	}
}

func TestTransientFailures(t *testing.T) {
	s := New(t)
	const enc = "/v1/transit/encrypt/nemo-platform-key"
	pt := map[string]string{"plaintext": base64.StdEncoding.EncodeToString([]byte("x"))}
	s.FailNext(503, 429)
	for _, want := range []int{503, 429, 200} {
		if st, _ := post(t, s, enc, s.Token(), pt); st != want {
			t.Errorf("got %d, want %d", st, want)
		}
	}
	s.ResetNext(1)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+enc, strings.NewReader(`{}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("reset connection answered")
	}
	if st, _ := post(t, s, enc, s.Token(), pt); st != 200 {
		t.Errorf("after the reset: %d", st)
	}
}
