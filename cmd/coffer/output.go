package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// errMalformed reports a 2xx answer whose body is not JSON.
var errMalformed = failed(errors.New("the server answered with malformed JSON"))

// table is what the table format prints: a header and rows of cells.
type table struct {
	header []string
	rows   [][]string
}

// render prints raw (a response body, or a JSON array of items) as JSON or
// YAML, or else prints the tables, separated by a blank line. JSON and YAML
// come from the bytes the server sent, so they show exactly its members,
// order and nulls.
func render(w io.Writer, format outputFormat, raw []byte, tables ...table) error {
	switch format {
	case formatJSON:
		return writeJSON(w, raw)
	case formatYAML:
		return writeYAML(w, raw)
	}
	for i, t := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := writeTable(w, t); err != nil {
			return err
		}
	}
	return nil
}

func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return errMalformed
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func writeYAML(w io.Writer, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	node, err := yamlNode(dec)
	if err != nil {
		return errMalformed
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return err
	}
	return enc.Close()
}

// yamlNode converts the next JSON value into a YAML node tree, keeping the
// member order that decoding into a map would lose.
func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		return yamlCollection(dec, tok)
	case string:
		return scalar("!!str", tok), nil
	case json.Number:
		if strings.ContainsAny(tok.String(), ".eE") {
			return scalar("!!float", tok.String()), nil
		}
		return scalar("!!int", tok.String()), nil
	case bool:
		return scalar("!!bool", fmt.Sprint(tok)), nil
	default:
		return scalar("!!null", "null"), nil
	}
}

func yamlCollection(dec *json.Decoder, open json.Delim) (*yaml.Node, error) {
	node := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if open == '{' {
		node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	for dec.More() {
		if node.Kind == yaml.MappingNode {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			node.Content = append(node.Content, scalar("!!str", fmt.Sprint(key)))
		}
		child, err := yamlNode(dec)
		if err != nil {
			return nil, err
		}
		node.Content = append(node.Content, child)
	}
	if len(node.Content) == 0 {
		node.Style = yaml.FlowStyle // [] and {} rather than an empty block
	}
	_, err := dec.Token() // the closing delimiter
	return node, err
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// writeTable aligns columns with spaces. Cells are printed verbatim (a
// tabwriter would rewrite tabs inside a secret value), and a line ends at its
// last non-empty cell.
func writeTable(w io.Writer, t table) error {
	lines := append([][]string{t.header}, t.rows...)
	widths := make([]int, len(t.header))
	for _, row := range lines {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, row := range lines {
		last := len(row) - 1
		for last > 0 && row[last] == "" {
			last--
		}
		for i, cell := range row[:last+1] {
			b.WriteString(cell)
			if i < last {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonArray joins raw JSON items into one array without re-encoding them.
func jsonArray(items []json.RawMessage) []byte {
	b := []byte{'['}
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, item...)
	}
	return append(b, ']')
}

// Cell formatting: null is an empty cell; times are shown as the API sends them.

func strCell(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func int64Cell(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}
