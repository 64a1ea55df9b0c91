package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestWriteYAMLKeepsOrderAndTypes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"object", `{"name":"b","workspace":"w","description":null,"n":3,"f":1.5,"ok":false}`,
			"name: b\nworkspace: w\ndescription: null\nn: 3\nf: 1.5\nok: false\n"},
		{"strings that look like other types are quoted", `{"a":"true","b":"123","c":"null","d":""}`,
			"a: \"true\"\nb: \"123\"\nc: \"null\"\nd: \"\"\n"},
		{"multi-line value", `{"value":"line1\nline2"}`, "value: |-\n  line1\n  line2\n"},
		{"nested", `{"data":[{"x":1}],"empty":[],"obj":{}}`, "data:\n  - x: 1\nempty: []\nobj: {}\n"},
		{"empty list", `[]`, "[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeYAML(&buf, []byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestWriteJSONIndentsTheBodyVerbatim(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, []byte(`{"value":"<a&b>\t\u00e9","n":1e3}`)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"value\": \"<a&b>\\t\\u00e9\",\n  \"n\": 1e3\n}\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestJSONArray(t *testing.T) {
	tests := []struct {
		items []json.RawMessage
		want  string
	}{
		{nil, `[]`},
		{[]json.RawMessage{json.RawMessage(`{"a":1}`)}, `[{"a":1}]`},
		{[]json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"<x>"`)}, `[1,"<x>"]`},
	}
	for _, tt := range tests {
		if got := string(jsonArray(tt.items)); got != tt.want {
			t.Errorf("jsonArray = %s, want %s", got, tt.want)
		}
	}
}

func TestWriteTableAlignsAndKeepsCellsVerbatim(t *testing.T) {
	var buf bytes.Buffer
	tbl := table{
		header: []string{"name", "value"},
		rows:   [][]string{{"é", "a\tb"}, {"longer", ""}, {"", "x"}},
	}
	if err := writeTable(&buf, tbl); err != nil {
		t.Fatal(err)
	}
	want := "name    value\né       a\tb\nlonger\n        x\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
