// Package envvar binds environment variables to settings with the parsing
// rules every Coffer setting shares (docs/configuration.md): a variable that is set, even
// to "", overrides the file; booleans accept true/false, 1/0, yes/no, on/off;
// lists accept a JSON array or a comma-separated string. Both package config
// and package auth (which config imports) use it.
package envvar

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Var binds one environment variable to a setting of a T.
type Var[T any] struct {
	Name string
	Set  func(c *T, v string) error
}

// Apply sets every variable that lookup finds; the first bad value stops it
// with an error naming the variable.
func Apply[T any](c *T, vars []Var[T], lookup func(string) (string, bool)) error {
	for _, e := range vars {
		v, ok := lookup(e.Name)
		if !ok {
			continue
		}
		if err := e.Set(c, v); err != nil {
			return fmt.Errorf("environment variable %s: %v", e.Name, err)
		}
	}
	return nil
}

// String binds a string setting.
func String[T any](p func(*T) *string) func(*T, string) error {
	return func(c *T, v string) error { *p(c) = v; return nil }
}

// Int binds an integer setting.
func Int[T any](p func(*T) *int) func(*T, string) error {
	return func(c *T, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not an integer")
		}
		*p(c) = n
		return nil
	}
}

// Bool binds a boolean setting.
func Bool[T any](p func(*T) *bool) func(*T, string) error {
	return func(c *T, v string) error {
		b, err := ParseBool(v)
		*p(c) = b
		return err
	}
}

// List binds a list setting.
func List[T any](p func(*T) *StringList) func(*T, string) error {
	return func(c *T, v string) error { *p(c) = ParseList(v); return nil }
}

// ParseBool accepts true/false, 1/0, yes/no and on/off in any case.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean (true/false, 1/0, yes/no, on/off)")
}

// ParseList accepts a JSON array or a comma-separated string; items are
// trimmed and empty ones dropped.
func ParseList(v string) StringList {
	v = strings.TrimSpace(v)
	var arr []string
	if strings.HasPrefix(v, "[") && json.Unmarshal([]byte(v), &arr) == nil {
		return arr
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// StringList is a list setting that YAML may also give as one
// comma-separated string, as the environment does.
type StringList []string

// UnmarshalYAML accepts a sequence, a comma-separated scalar, or null.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = ParseList(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}
