package openapi_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/coffer-dev/coffer/internal/openapi"
	"github.com/coffer-dev/coffer/internal/openapi/openapitest"
)

// TestDocumentIsValid loads the document with kin-openapi, which checks it
// is a well-formed OpenAPI 3.1 document whose references all resolve.
func TestDocumentIsValid(t *testing.T) {
	if _, err := openapitest.Load(); err != nil {
		t.Fatal(err)
	}
}

// TestJSONIsTheYAML: clients that fetch either form read the same document.
func TestJSONIsTheYAML(t *testing.T) {
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal(openapi.YAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openapi.JSON(), &fromJSON); err != nil {
		t.Fatalf("JSON form does not parse: %v", err)
	}
	// Round-trip the YAML value through JSON so numbers compare alike.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, want) {
		t.Error("openapi.JSON() is not the YAML document")
	}
}

func TestToJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"b: 1\na: x\n", `{"b":1,"a":"x"}`},
		{"a: 'false'\nb: false\nc: null\nd: ~\n", `{"a":"false","b":false,"c":null,"d":null}`},
		{"a: [1, '2', <b>]\n", `{"a":[1,"2","<b>"]}`},
		{"a: 1.5\nb: '\"q\"'\n", `{"a":1.5,"b":"\"q\""}`},
	} {
		got, err := openapi.ToJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("ToJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"a: &x 1\nb: *x\n", "[1, 2"} {
		if _, err := openapi.ToJSON([]byte(in)); err == nil {
			t.Errorf("ToJSON(%q) accepted", in)
		}
	}
}

// TestOperationIDsAreUnique: generated clients name methods after them.
func TestOperationIDsAreUnique(t *testing.T) {
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, op := range ops {
		if op.ID == "" {
			t.Errorf("%s %s has no operationId", op.Method, op.Path)
		}
		if prev, ok := seen[op.ID]; ok {
			t.Errorf("operationId %s is used by %s and %s %s", op.ID, prev, op.Method, op.Path)
		}
		seen[op.ID] = op.Method + " " + op.Path
	}
	if len(ops) < 25 {
		t.Errorf("only %d operations documented", len(ops))
	}
}
