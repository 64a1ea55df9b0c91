package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestServedOpenAPIDocument: both served forms parse, are one document, and
// need no identity (auth enabled, no credentials).
func TestServedOpenAPIDocument(t *testing.T) {
	ts := start(t, map[string]string{"NMP_AUTH_ENABLED": "true"}, "")
	j := ts.do(t, "GET", "/openapi.json", "")
	y := ts.do(t, "GET", "/openapi.yaml", "")
	if j.Status != 200 || y.Status != 200 {
		t.Fatalf("statuses %d and %d, want 200", j.Status, y.Status)
	}
	if ct := j.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/openapi.json Content-Type = %q", ct)
	}
	if ct := y.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("/openapi.yaml Content-Type = %q", ct)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(j.Body), &fromJSON); err != nil {
		t.Fatalf("/openapi.json does not parse: %v", err)
	}
	if err := yaml.Unmarshal([]byte(y.Body), &fromYAML); err != nil {
		t.Fatalf("/openapi.yaml does not parse: %v", err)
	}
	b, _ := json.Marshal(fromYAML)
	var yamlAsJSON any
	json.Unmarshal(b, &yamlAsJSON)
	if !reflect.DeepEqual(fromJSON, yamlAsJSON) {
		t.Error("/openapi.json and /openapi.yaml are not the same document")
	}
	if v := fromJSON.(map[string]any)["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	// HEAD answers like GET without a body.
	if h := ts.do(t, "HEAD", "/openapi.json", ""); h.Status != 200 || h.Body != "" {
		t.Errorf("HEAD /openapi.json: %d %q", h.Status, h.Body)
	}
}
