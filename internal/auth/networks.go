package auth

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Networks is the set of peers whose identity headers are trusted.
type Networks struct {
	any      bool
	prefixes []netip.Prefix
}

// LoopbackNetworks is the default: identity headers only from this host.
var LoopbackNetworks = Networks{prefixes: []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
}}

// ParseNetworks parses a list of CIDRs, or the single entry "any".
func ParseNetworks(entries []string) (Networks, error) {
	if len(entries) == 1 && strings.EqualFold(strings.TrimSpace(entries[0]), "any") {
		return Networks{any: true}, nil
	}
	var n Networks
	for _, e := range entries {
		p, err := netip.ParsePrefix(strings.TrimSpace(e))
		if err != nil {
			return Networks{}, fmt.Errorf("coffer.auth.trusted_header_networks: invalid CIDR %q", e)
		}
		n.prefixes = append(n.prefixes, p.Masked())
	}
	return n, nil
}

// Contains reports whether the TCP peer remoteAddr ("host:port") is trusted.
// IPv4-mapped IPv6 addresses are compared as IPv4.
func (n Networks) Contains(remoteAddr string) bool {
	if n.any {
		return true
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range n.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// OnlyLoopback reports whether nothing outside loopback is trusted.
func (n Networks) OnlyLoopback() bool {
	if n.any {
		return false
	}
	for _, p := range n.prefixes {
		if !p.Addr().IsLoopback() {
			return false
		}
	}
	return true
}

// String lists the networks for log messages.
func (n Networks) String() string {
	if n.any {
		return "any"
	}
	s := make([]string, len(n.prefixes))
	for i, p := range n.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
