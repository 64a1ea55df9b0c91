package config

import (
	"fmt"
	"net"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Coffer's own defaults for the parts of the listen address and the log
// format, used when neither coffer.* nor service.* sets them.
const (
	defaultHost      = "127.0.0.1"
	defaultPort      = 8080
	defaultLogFormat = "text"
)

// applyService fills coffer.listen and coffer.log.format from the
// platform's service section where Coffer's own keys (file, variable or
// flag) are not set: Coffer's keys win, then service.*, then the defaults
// (docs/configuration.md, "service").
func (c *Config) applyService() {
	s := c.Service
	if !c.listenSet {
		host, port := defaultHost, defaultPort
		if s.Host != "" {
			host = s.Host
		}
		if s.Port != nil {
			port = int(*s.Port)
		}
		c.Coffer.Listen = net.JoinHostPort(host, strconv.Itoa(port))
		if s.Host != "" || s.Port != nil {
			c.listenKey = "service.host/service.port"
			c.Notes = append(c.Notes, "listen address "+c.Coffer.Listen+
				" comes from service.host and service.port (coffer.listen is not set)")
		}
	}
	if !c.logFormatSet {
		c.Coffer.Log.Format = defaultLogFormat
		if s.LogFormat != "" {
			c.Coffer.Log.Format = s.LogFormat
			c.logFormatKey = "service.log_format"
		}
	}
}

// ListenKey names the setting the listen address came from, for messages
// about it: "coffer.listen" (also when set by COFFER_LISTEN, --listen or
// the default) or "service.host/service.port".
func (c *Config) ListenKey() string {
	if c.listenKey == "" {
		return "coffer.listen"
	}
	return c.listenKey
}

// validateService checks the service.* keys that are in use.
func (c *Config) validateService() error {
	if p := c.Service.Port; p != nil && !c.listenSet && (*p < 0 || *p > 65535) {
		return fmt.Errorf("service.port must be between 0 and 65535, got %d", *p)
	}
	if c.logFormatKey != "" && c.Coffer.Log.Format != "text" && c.Coffer.Log.Format != "json" {
		return fmt.Errorf("service.log_format must be text or json, got %q", c.Coffer.Log.Format)
	}
	return nil
}

// child returns the value under key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// hasKey reports whether mapping n has key, whatever its value (an empty
// or null value still counts as set, like a variable set to "").
func hasKey(n *yaml.Node, key string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
