// Package openapi holds Coffer's OpenAPI 3.1 document (openapi.yaml), the
// HTTP contract the code is tested against, and serves it as YAML and as
// JSON. docs/api.md is the same contract in prose.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var yamlDoc []byte

// jsonDoc is the document converted once, when the program starts: a
// document that does not convert is a build defect (the package's tests
// catch it), so it stops the program instead of serving half a contract.
var jsonDoc = mustJSON(yamlDoc)

// YAML returns the document as written. Callers must not modify it.
func YAML() []byte { return yamlDoc }

// JSON returns the document as JSON, keys in the order of the YAML.
// Callers must not modify it.
func JSON() []byte { return jsonDoc }

func mustJSON(y []byte) []byte {
	b, err := ToJSON(y)
	if err != nil {
		panic("openapi: the embedded openapi.yaml does not convert to JSON: " + err.Error())
	}
	return b
}

// ToJSON converts a YAML document to JSON, keeping the order of mapping
// keys (encoding/json would sort them). Only what JSON can express is
// accepted: string mapping keys, no aliases.
func ToJSON(y []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(y, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, errors.New("not a single YAML document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, root.Content[0]); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: mapping keys must be plain scalars", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("line %d: aliases and anchors are not supported", n.Line)
	}
	return nil
}

// writeScalar writes a scalar by its resolved tag, so 'false' (quoted)
// stays a string while false becomes a boolean.
func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!str":
		writeString(buf, n.Value)
		return nil
	case "!!null":
		buf.WriteString("null")
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	buf.Write(b)
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)               // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// Operation is one documented method and path template.
type Operation struct {
	Method string // upper case, e.g. "GET"
	Path   string // the template, e.g. "/health/live"
	ID     string // operationId
	// Planned is the x-coffer-planned mark: documented ahead of the code
	// that serves it.
	Planned bool
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Operations lists the document's operations, sorted by path and method.
func Operations() ([]Operation, error) {
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(yamlDoc, &doc); err != nil {
		return nil, err
	}
	var ops []Operation
	for path, item := range doc.Paths {
		for method, node := range item {
			if !slices.Contains(methods, method) {
				continue
			}
			var op struct {
				ID      string `yaml:"operationId"`
				Planned bool   `yaml:"x-coffer-planned"`
			}
			if err := node.Decode(&op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			ops = append(ops, Operation{Method: strings.ToUpper(method), Path: path, ID: op.ID, Planned: op.Planned})
		}
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return ops, nil
}
