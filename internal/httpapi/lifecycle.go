package httpapi

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Versions and the recycle bin (docs/lifecycle.md).

// ifMatch is the request's If-Match precondition.
func ifMatch(r *http.Request) secrets.Cond { return secrets.ParseIfMatch(r.Header["If-Match"]) }

// versionNumber parses a version number from the path or the query (where
// names the location); it must be an integer >= 1.
func versionNumber(raw, where string) (int64, *item) {
	loc := []any{where, "version"}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	switch {
	case err != nil:
		return 0, &item{Type: "int_parsing", Loc: loc, Input: rawString(raw),
			Msg: "Input should be a valid integer, unable to parse string as an integer"}
	case n < 1:
		return 0, &item{Type: "greater_than_equal", Loc: loc, Input: rawString(raw),
			Msg: "Input should be greater than or equal to 1", Ctx: map[string]int{"ge": 1}}
	}
	return n, nil
}

// pathVersion is the {version} of the route, or false after answering 422.
func pathVersion(w http.ResponseWriter, p params) (int64, bool) {
	v, it := versionNumber(p.get("version"), "path")
	if it != nil {
		writeItems(w, []item{*it})
		return 0, false
	}
	return v, true
}

// versionSorts order a version list: by number, which is creation order.
var versionSorts = []string{"-created_at", "created_at", "-version", "version"}

type versionJSON struct {
	Version   int64     `json:"version"`
	CreatedAt timestamp `json:"created_at"`
	CreatedBy *string   `json:"created_by,omitempty"`
	State     string    `json:"state"`
}

type versionPageJSON struct {
	Data       []versionJSON  `json:"data"`
	Pagination paginationJSON `json:"pagination"`
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, p params) {
	var is items
	q := r.URL.Query()
	o := secrets.ListOptions{
		Page:     queryInt(q, "page", 1, 0, &is),
		PageSize: queryInt(q, "page_size", 10, 1000, &is),
		Sort:     querySort(q, versionSorts, "-created_at", &is),
		Filter:   queryFilter(q, versionFilterKeys, &is),
	}
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	vs, pg, err := s.svc.ListVersions(r.Context(), p.get("workspace"), p.get("name"), o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := versionPageJSON{Data: make([]versionJSON, len(vs)), Pagination: toPagination(pg, len(vs))}
	for i, v := range vs {
		state := "enabled"
		if v.Destroyed {
			state = "destroyed"
		}
		out.Data[i] = versionJSON{v.Number, timestamp(v.CreatedAt), v.CreatedBy, state}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) restoreVersion(w http.ResponseWriter, r *http.Request, p params) {
	v, ok := pathVersion(w, p)
	if !ok {
		return
	}
	sec, err := s.svc.RestoreVersion(r.Context(), p.get("workspace"), p.get("name"), v, ifMatch(r), actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusOK, sec)
}

func (s *Server) destroyVersion(w http.ResponseWriter, r *http.Request, p params) {
	v, ok := pathVersion(w, p)
	if !ok {
		return
	}
	if err := s.svc.DestroyVersion(r.Context(), p.get("workspace"), p.get("name"), v, ifMatch(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deletedSorts are the recycle bin's sorts: a secret list's and deleted_at.
var deletedSorts = append(append([]string{}, secrets.SecretSorts...), secrets.DeletedSorts...)

type deletedJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Workspace      string    `json:"workspace"`
	Description    *string   `json:"description,omitempty"`
	CurrentVersion int64     `json:"current_version"`
	CreatedAt      timestamp `json:"created_at"`
	UpdatedAt      timestamp `json:"updated_at"`
	DeletedAt      timestamp `json:"deleted_at"`
	DeletedBy      *string   `json:"deleted_by,omitempty"`
	PurgeAt        timestamp `json:"purge_at"`
}

type deletedPageJSON struct {
	Data       []deletedJSON  `json:"data"`
	Pagination paginationJSON `json:"pagination"`
}

func (s *Server) listDeleted(w http.ResponseWriter, r *http.Request, p params) {
	var is items
	o := listOptions(r.URL.Query(), deletedSorts, "-deleted_at", &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	list, pg, err := s.svc.ListDeleted(r.Context(), p.get("workspace"), o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := deletedPageJSON{Data: make([]deletedJSON, len(list)), Pagination: toPagination(pg, len(list))}
	for i, d := range list {
		out.Data[i] = deletedJSON{ID: d.ID, Name: d.Name, Workspace: d.Workspace, Description: d.Description,
			CurrentVersion: d.Version, CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt),
			DeletedAt: timestamp(d.DeletedAt), DeletedBy: d.DeletedBy, PurgeAt: timestamp(d.PurgeAt)}
	}
	writeJSON(w, http.StatusOK, out)
}

// restoreDeleted takes an optional body {"name": "<new name>"}.
func (s *Server) restoreDeleted(w http.ResponseWriter, r *http.Request, p params) {
	newName, ok := s.restoreName(w, r)
	if !ok {
		return
	}
	p.audit.setSecret(newName)
	sec, err := s.svc.RestoreDeleted(r.Context(), p.get("workspace"), p.get("id"), newName, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusOK, sec)
}

// restoreName reads the optional restore body: "" when it is empty or has
// no name, false after answering 422.
func (s *Server) restoreName(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, ok := s.readBody(w, r)
	if !ok {
		return "", false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", true
	}
	o, it := parseObject(body, true)
	var name *string
	if it == nil {
		name, it = o.str(stringRule{name: "name", nullable: true})
	}
	if it == nil && name != nil {
		it = nameItem(*name)
	}
	if it != nil {
		writeItems(w, []item{*it})
		return "", false
	}
	if name == nil {
		return "", true
	}
	return *name, true
}

func (s *Server) purgeDeleted(w http.ResponseWriter, r *http.Request, p params) {
	if err := s.svc.PurgeDeleted(r.Context(), p.get("workspace"), p.get("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
