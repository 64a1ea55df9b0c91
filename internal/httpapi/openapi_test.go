package httpapi

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/openapi"
)

// TestRouterMatchesOpenAPI ties the route table to the OpenAPI document:
// a route the document lacks is an undocumented API, an operation no
// route serves is a promise the server breaks. Operations marked
// x-coffer-planned are documented ahead of their code; once a route
// serves one, the mark must go.
func TestRouterMatchesOpenAPI(t *testing.T) {
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[[2]string]openapi.Operation{}
	for _, op := range ops {
		documented[[2]string{op.Method, op.Path}] = op
	}
	served := map[[2]string]bool{}
	for _, r := range routes() {
		key := [2]string{r.method, r.pattern}
		served[key] = true
		op, ok := documented[key]
		switch {
		case !ok:
			t.Errorf("%s %s is served but not in internal/openapi/openapi.yaml", r.method, r.pattern)
		case op.Planned:
			t.Errorf("%s %s is served now: remove x-coffer-planned from its operation in internal/openapi/openapi.yaml", r.method, r.pattern)
		}
	}
	for key, op := range documented {
		if !served[key] && !op.Planned {
			t.Errorf("%s %s is in internal/openapi/openapi.yaml but no route serves it", key[0], key[1])
		}
	}
}
