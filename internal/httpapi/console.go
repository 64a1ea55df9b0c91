package httpapi

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/console"
)

// The web console's routes are public: its files hold no data, and every
// API call the page makes carries the caller's own identity
// (docs/console.md).

func (s *Server) consoleIndex(w http.ResponseWriter, r *http.Request, _ params) {
	s.console.Serve(w, r, console.IndexName)
}

func (s *Server) consoleAsset(w http.ResponseWriter, r *http.Request, p params) {
	if !s.console.Serve(w, r, p.get("file")) {
		s.console.SetSecurityHeaders(w.Header())
		writeDetail(w, http.StatusNotFound, "Not Found")
	}
}
