package httpapi

import (
	"net/http"
	"strconv"

	"github.com/coffer-dev/coffer/internal/openapi"
)

// The OpenAPI document (internal/openapi/openapi.yaml) is served as written
// and as JSON; both are public, like health.

func (s *Server) openapiJSON(w http.ResponseWriter, _ *http.Request, _ params) {
	writeBody(w, http.StatusOK, openapi.JSON())
}

func (s *Server) openapiYAML(w http.ResponseWriter, _ *http.Request, _ params) {
	b := openapi.YAML()
	h := w.Header()
	h["Content-Type"] = []string{"application/yaml"} // RFC 9512
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
