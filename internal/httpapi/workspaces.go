package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, true)
	if !ok {
		return
	}
	var is items
	name, it := o.str(stringRule{name: "name", required: true})
	if it == nil && !secrets.ValidWorkspaceName(*name) {
		it = patternItem(*name, secrets.WorkspaceNamePattern)
	} else if it == nil {
		p.audit.setWorkspace(*name)
	}
	is.add(it)
	desc, it := s.description(o)
	is.add(it)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	admin := ""
	if s.auth.Enabled() {
		admin = p.principal.CreatorBinding()
	}
	ws, err := s.svc.CreateWorkspace(r.Context(), *name, desc, actor(p), admin)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toWorkspaceJSON(ws))
}

// readObject reads and parses a JSON object body, answering 413 or 422
// itself when it is not one. echo is false for the secrets bodies, whose
// input is never echoed because it can hold the value.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request, echo bool) (object, bool) {
	body, ok := s.readBody(w, r)
	if !ok {
		return object{}, false
	}
	o, it := parseObject(body, echo)
	if it != nil {
		writeItems(w, []item{*it})
		return object{}, false
	}
	return o, true
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request, p params) {
	var is items
	q := r.URL.Query()
	page := queryInt(q, "page", 1, 0, &is)
	size := queryInt(q, "page_size", 100, 1000, &is)
	sort := querySort(q, secrets.WorkspaceSorts, "-created_at", &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	vis, err := s.auth.VisibleWorkspaces(r.Context(), p.principal)
	if err != nil {
		s.writeAuthError(w, r, err)
		return
	}
	var visible func(string) bool
	if !vis.All {
		visible = vis.Contains
	}
	list, pg, err := s.svc.ListWorkspaces(r.Context(), sort, page, size, visible)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := workspacePageJSON{Data: make([]workspaceJSON, len(list)), Pagination: toPagination(pg, len(list)), Sort: sort}
	for i, ws := range list {
		out.Data[i] = toWorkspaceJSON(ws)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request, p params) {
	ws, err := s.svc.GetWorkspace(r.Context(), p.get("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
}

func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, true)
	if !ok {
		return
	}
	desc, it := s.description(o)
	if it != nil {
		writeItems(w, []item{*it})
		return
	}
	ws, err := s.svc.UpdateWorkspace(r.Context(), p.get("name"), desc, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
}

func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request, p params) {
	name := p.get("name")
	if err := s.svc.DeleteWorkspace(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResultJSON{Message: "Workspace marked for deletion", ID: name, DeletedCount: 1})
}

func (s *Server) live(w http.ResponseWriter, _ *http.Request, _ params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "live"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ params) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "readiness check failed", "error", err.Error())
			body := map[string]string{"status": "not_ready"}
			// A provider an operator must fix (an expired Vault token) says
			// so; other causes (the database) stay in the log.
			var nr *envelope.NotReadyError
			if errors.As(err, &nr) {
				body["reason"] = nr.Error()
			}
			writeJSON(w, http.StatusServiceUnavailable, detail{body})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request, _ params) {
	writeJSON(w, http.StatusOK, s.disc.Document(r.Context()))
}
