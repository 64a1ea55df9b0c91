package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-dev/coffer/internal/secrets"
)

type memberJSON struct {
	Principal string     `json:"principal"`
	Roles     []string   `json:"roles"`
	GrantedAt *timestamp `json:"granted_at"`
	GrantedBy *string    `json:"granted_by"`
}

func toMemberJSON(m secrets.Member) memberJSON {
	roles := m.Roles
	if roles == nil {
		roles = []string{}
	}
	return memberJSON{m.Principal, roles, ts(m.GrantedAt), m.GrantedBy}
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, p params) {
	ms, err := s.svc.ListMembers(r.Context(), p.get("workspace"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Data []memberJSON `json:"data"`
	}{make([]memberJSON, len(ms))}
	for i, m := range ms {
		out.Data[i] = toMemberJSON(m)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, true)
	if !ok {
		return
	}
	var is items
	principal, it := o.str(stringRule{name: "principal", required: true})
	if it == nil {
		*principal, it = principalItem(*principal)
	}
	is.add(it)
	roles := rolesOf(o, false, &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	m, err := s.svc.AddMember(r.Context(), p.get("workspace"), *principal, roles, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toMemberJSON(m))
}

func (s *Server) setMember(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, true)
	if !ok {
		return
	}
	var is items
	roles := rolesOf(o, true, &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	m, err := s.svc.SetMember(r.Context(), p.get("workspace"), p.get("principal"), roles, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMemberJSON(m))
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, p params) {
	ws, principal := p.get("workspace"), p.get("principal")
	n, err := s.svc.RemoveMember(r.Context(), ws, principal)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResultJSON{Message: "Member removed from workspace '" + ws + "'", ID: principal, DeletedCount: n})
}

// principalItem trims a principal and checks it (docs/api.md §9.7).
func principalItem(v string) (string, *item) {
	t := strings.TrimSpace(v)
	if n := utf8.RuneCountInString(t); n >= 1 && n <= 320 && !strings.ContainsFunc(t, unicode.IsControl) {
		return t, nil
	}
	return v, &item{Type: "value_error", Loc: []any{"body", "principal"}, Input: rawString(v), Ctx: errorCtx,
		Msg: "Value error, Invalid principal: use 1 to 320 characters without control characters"}
}

// rolesOf validates the roles member: a list of assignable role names,
// duplicates collapsed in first-occurrence order; absent means ["Editor"]
// unless required.
func rolesOf(o object, required bool, is *items) []string {
	raw, ok := o.fields["roles"]
	loc := []any{"body", "roles"}
	if !ok {
		if required {
			is.add(&item{Type: "missing", Loc: loc, Msg: "Field required", Input: o.raw})
		}
		return []string{secrets.RoleEditor}
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		is.add(&item{Type: "list_type", Loc: loc, Msg: "Input should be a valid list", Input: compact(raw)})
		return nil
	}
	roles := []string{}
	for i, e := range elems {
		role, it := (object{fields: map[string]json.RawMessage{"r": e}, echo: true}).str(stringRule{name: "r", required: true})
		if it != nil {
			it.Loc = []any{"body", "roles", i}
		} else if !secrets.IsAssignableRole(*role) {
			it = &item{Type: "value_error", Loc: []any{"body", "roles", i}, Input: rawString(*role), Ctx: errorCtx,
				Msg: "Value error, Unknown role '" + *role + "'. Allowed roles: " + strings.Join(secrets.AssignableRoles(), ", ")}
		}
		if it != nil {
			is.add(it)
			continue
		}
		if !slices.Contains(roles, *role) {
			roles = append(roles, *role)
		}
	}
	return roles
}
