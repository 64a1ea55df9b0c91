package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/secrets"
)

func (s *Server) createSecret(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, false)
	if !ok {
		return
	}
	var is items
	name, it := o.str(stringRule{name: "name", required: true})
	if it == nil {
		if it = nameItem(*name); it == nil {
			p.audit.setSecret(*name)
		}
	}
	is.add(it)
	desc, it := s.description(o)
	is.add(it)
	value, it := s.value(o, true)
	is.add(it)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	if *value == "" {
		writeItems(w, []item{emptyValueItem})
		return
	}
	sec, err := s.svc.CreateSecret(r.Context(), p.get("workspace"),
		secrets.NewSecret{Name: *name, Description: desc, Value: *value}, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusCreated, sec)
}

// writeSecret answers with the metadata of sec and its entity tag.
func writeSecret(w http.ResponseWriter, status int, sec secrets.Secret) {
	if sec.ETag != "" {
		w.Header()["Etag"] = headerValue(w, sec.ETag)
	}
	buf := getBody()
	*buf = appendSecret(*buf, sec, false)
	writePooled(w, status, buf)
}

// nameItem runs the two secret-name checks of docs/api.md §3.1.
func nameItem(name string) *item {
	loc := []any{"body", "name"}
	switch secrets.CheckSecretName(name) {
	case secrets.NameBadChars:
		return &item{Type: "value_error", Loc: loc, Input: rawString(name), Ctx: errorCtx,
			Msg: "Value error, Invalid secret name '" + name + "'. Allowed characters: letters (a-z, A-Z), digits (0-9), underscores, hyphens, and dots. Example: my-api-key"}
	case secrets.NameBadShape:
		return patternItem(name, secrets.SecretNamePattern)
	}
	return nil
}

func patternItem(name, pattern string) *item {
	return &item{Type: "string_pattern_mismatch", Loc: []any{"body", "name"}, Input: rawString(name),
		Msg: "String should match pattern '" + pattern + "'", Ctx: map[string]string{"pattern": pattern}}
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, p params) {
	var is items
	o := listOptions(r.URL.Query(), secrets.SecretSorts, "-created_at", &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	list, pg, err := s.svc.ListSecrets(r.Context(), p.get("workspace"), o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	buf := getBody()
	*buf = appendSecretPage(*buf, list, pg)
	writePooled(w, http.StatusOK, buf)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, p params) {
	sec, err := s.svc.GetSecret(r.Context(), p.get("workspace"), p.get("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inm := r.Header["If-None-Match"]; inm != nil && secrets.MatchesNone(inm, sec.ETag) {
		w.Header()["Etag"] = headerValue(w, sec.ETag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeSecret(w, http.StatusOK, sec)
}

func (s *Server) updateSecret(w http.ResponseWriter, r *http.Request, p params) {
	o, ok := s.readObject(w, r, false)
	if !ok {
		return
	}
	var is items
	desc, it := s.description(o)
	is.add(it)
	value, it := s.value(o, false)
	is.add(it)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	if value != nil && *value == "" {
		writeItems(w, []item{emptyValueItem})
		return
	}
	sec, err := s.svc.UpdateSecret(r.Context(), p.get("workspace"), p.get("name"),
		secrets.SecretChange{Description: desc, Value: value, Cond: ifMatch(r)}, actor(p))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusOK, sec)
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request, p params) {
	if err := s.svc.DeleteSecret(r.Context(), p.get("workspace"), p.get("name"), ifMatch(r), actor(p)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) accessSecret(w http.ResponseWriter, r *http.Request, p params) {
	ws, name := p.get("workspace"), p.get("name")
	var version int64
	if r.URL.RawQuery != "" { // the hot path has none: no query map to build
		if vs := r.URL.Query()["version"]; len(vs) > 0 {
			var it *item
			if version, it = versionNumber(vs[len(vs)-1], "query"); it != nil {
				writeItems(w, []item{*it})
				return
			}
		}
	}
	pr := p.principal
	// The on-behalf-of user must be able to read the metadata, checked
	// before any lookup so a 403 never reveals whether the secret exists.
	if err := s.auth.CheckAccess(r.Context(), pr, ws); err != nil {
		s.writeAuthError(w, r, err)
		return
	}
	value, got, err := s.svc.AccessSecret(r.Context(), ws, name, version)
	outcome := "ok"
	if err != nil {
		outcome, got = err.Error(), version
	}
	if s.accessLines {
		s.accessLine(r.Context(), pr, ws, name, got, outcome)
	}
	if err != nil {
		if p.audit != nil {
			p.audit.d.Event.Version = version
		}
		s.writeError(w, r, err)
		return
	}
	if !s.auditValue(r.Context(), p.audit, got) {
		if s.clientClosed(w, r, errAuditWithheld) {
			return
		}
		// Retry-After like every other 503: the message says "retry shortly".
		w.Header().Set("Retry-After", "1")
		writeDetail(w, http.StatusServiceUnavailable, msgAuditUnavailable)
		return
	}
	w.Header()["Cache-Control"] = headerValue(w, "no-store")
	if got != 0 {
		w.Header()["Coffer-Secret-Version"] = headerValue(w, strconv.FormatInt(got, 10))
	}
	buf := getBody()
	*buf = appendSecretValue(*buf, name, ws, value)
	writePooled(w, http.StatusOK, buf)
}

// accessLine writes the log line of one /access when the audit trail does
// not record it (docs/operations.md, "Logs"): who, on whose behalf, which
// secret and version (0: the current one, not found) and the outcome, never
// the value. It is Logger.Info without the
// runtime.Callers walk Logger collects for the source position, which no
// handler Coffer configures prints; the line is the same.
func (s *Server) accessLine(ctx context.Context, p auth.Principal, ws, name string, version int64, outcome string) {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "secret access", 0)
	rec.AddAttrs(slog.String("principal", p.ID), slog.String("on_behalf_of", p.OnBehalfOf),
		slog.String("workspace", ws), slog.String("name", name), auditVersion(version), slog.String("outcome", outcome))
	_ = h.Handle(ctx, rec)
}

func auditVersion(v int64) slog.Attr {
	if v == 0 {
		return slog.String("version", "current")
	}
	return slog.Int64("version", v)
}

func (s *Server) rotate(w http.ResponseWriter, r *http.Request, p params) {
	if err := s.auth.CheckRotate(r.Context(), p.principal); err != nil {
		s.writeAuthError(w, r, err)
		return
	}
	res, err := s.svc.RotateKeys(r.Context())
	restartWriteTimeout(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := rotationJSON{Rotated: res.Rotated, Success: res.FailedCount == 0, Skipped: res.Skipped,
		Failed: make([]rotationFailJSON, len(res.Failed)), FailedCount: res.FailedCount,
		RotatedVersions: res.RotatedVersions, DeletedRotated: res.DeletedRotated}
	for i, f := range res.Failed {
		out.Failed[i] = rotationFailJSON(f)
	}
	writeJSON(w, http.StatusAccepted, out)
}
