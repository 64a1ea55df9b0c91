package auth

import (
	"net/http"
	"strings"
	"testing"
)

func TestFromHeaders(t *testing.T) {
	long := strings.Repeat("a", 257)
	tests := []struct {
		name    string
		headers map[string]string
		want    string // error text, or "" for success
	}{
		{"ok", map[string]string{HeaderID: " alice@corp.com ", HeaderEmail: "a@b", HeaderGroups: "g1, g2,,"}, ""},
		{"id too long", map[string]string{HeaderID: long}, "X-NMP-Principal-Id exceeds maximum length of 256 characters"},
		{"id chars", map[string]string{HeaderID: "a b"}, "X-NMP-Principal-Id contains invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"},
		{"email long", map[string]string{HeaderID: "a", HeaderEmail: strings.Repeat("e", 318) + "@bc"}, "X-NMP-Principal-Email exceeds maximum length of 320 characters"},
		{"email shape", map[string]string{HeaderID: "a", HeaderEmail: "a@@b"}, "X-NMP-Principal-Email is not a valid email address"},
		{"email space", map[string]string{HeaderID: "a", HeaderEmail: "a b@c"}, "X-NMP-Principal-Email is not a valid email address"},
		{"groups many", map[string]string{HeaderID: "a", HeaderGroups: strings.Repeat("g,", 101)}, "X-NMP-Principal-Groups exceeds maximum of 100 groups"},
		{"group long", map[string]string{HeaderID: "a", HeaderGroups: long}, "X-NMP-Principal-Groups contains a group exceeding 256 characters"},
		{"group chars", map[string]string{HeaderID: "a", HeaderGroups: "ok,b!d"}, "X-NMP-Principal-Groups contains a group with invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"},
		{"obo chars", map[string]string{HeaderID: "service:jobs", HeaderOnBehalfOf: "x y"}, "X-NMP-Principal-On-Behalf-Of contains invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"},
		{"obo groups before email", map[string]string{HeaderID: "service:jobs", HeaderOnBehalfOf: "", HeaderOnBehalfOfEmail: "bad", HeaderOnBehalfOfGroups: "b d"}, "X-NMP-Principal-On-Behalf-Of-Groups contains a group with invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"},
		{"obo email", map[string]string{HeaderID: "service:jobs", HeaderOnBehalfOf: "bob", HeaderOnBehalfOfEmail: "bad"}, "X-NMP-Principal-On-Behalf-Of-Email is not a valid email address"},
		{"obo email ignored without obo header", map[string]string{HeaderID: "a", HeaderOnBehalfOfEmail: "bad"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			_, ok, err := FromHeaders(h)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want || (tt.want == "") != ok {
				t.Errorf("got (%v, %q), want %q", ok, got, tt.want)
			}
		})
	}
}

func TestFromHeadersValues(t *testing.T) {
	h := http.Header{}
	h.Add(HeaderID, "first")
	h.Add(HeaderID, "service:jobs")
	h.Set(HeaderGroups, " g1 , ,g2")
	h.Set(HeaderOnBehalfOf, "bob")
	h.Set(HeaderScopes, " secrets:read  openid ")
	p, ok, err := FromHeaders(h)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if p.ID != "service:jobs" || !p.IsService() || p.EffectiveID() != "bob" {
		t.Errorf("principal %+v", p)
	}
	if strings.Join(p.Groups, "|") != "g1|g2" || strings.Join(p.Scopes, "|") != "secrets:read|openid" {
		t.Errorf("groups %q scopes %q", p.Groups, p.Scopes)
	}
	if _, ok, _ := FromHeaders(http.Header{HeaderID: {"  "}}); ok {
		t.Error("blank id should mean no header identity")
	}
}

func TestNetworks(t *testing.T) {
	n, err := ParseNetworks([]string{"10.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3:555": true, "[::ffff:10.1.2.3]:1": true, "[::1]:80": true, "11.0.0.1:1": false, "garbage": false,
	} {
		if got := n.Contains(addr); got != want {
			t.Errorf("Contains(%q) = %v", addr, got)
		}
	}
	if !LoopbackNetworks.Contains("127.0.0.1:1") || LoopbackNetworks.Contains("192.168.1.1:1") || !LoopbackNetworks.OnlyLoopback() {
		t.Error("loopback defaults wrong")
	}
	any, _ := ParseNetworks([]string{"any"})
	if !any.Contains("8.8.8.8:1") || any.OnlyLoopback() {
		t.Error("any should trust everything")
	}
	if _, err := ParseNetworks([]string{"nope"}); err == nil {
		t.Error("invalid CIDR accepted")
	}
}
