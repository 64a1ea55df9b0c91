package httpapi

import "net/http"

// versionInfo answers GET /version with the build's version, commit, build
// date and Go version (docs/operations.md, "Build info"). It is public, like
// health: it names no data, and operators compare replicas with it.
func (s *Server) versionInfo(w http.ResponseWriter, _ *http.Request, _ params) {
	writeBody(w, http.StatusOK, s.version)
}
