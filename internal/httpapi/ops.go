package httpapi

import "net/http"

// versionInfo answers GET /version with the build's version, commit, build
// date and Go version (docs/operations.md, "Build info"). It is public, like
// health: it names no data, and operators compare replicas with it.
func (s *Server) versionInfo(w http.ResponseWriter, _ *http.Request, _ params) {
	writeBody(w, http.StatusOK, s.version)
}

// metricsText answers GET /metrics in the Prometheus text format, or 404
// when coffer.metrics.enabled is false. It is public like health: label
// values are route patterns and fixed names, never data.
func (s *Server) metricsText(w http.ResponseWriter, r *http.Request, _ params) {
	if s.metricz == nil {
		writeDetail(w, http.StatusNotFound, "Not Found")
		return
	}
	s.metricz.ServeHTTP(w, r)
}
