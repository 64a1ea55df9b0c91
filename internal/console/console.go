// Package console holds the web console (docs/console.md): plain ES modules,
// CSS and one HTML page embedded in the binary, with no build step, so
// `go build` alone produces a binary whose console matches its sources
// (docs/design.md, "Decisions"). The console talks to the public JSON API
// only; this package just serves its files with the security and cache
// headers every console response carries.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// IndexName is the page served at "/"; every other file is served under
// AssetPrefix by its base name.
const (
	IndexName   = "index.html"
	AssetPrefix = "/console/"
)

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and fetches from this origin only, no inline code, no eval, DOM
// sinks behind Trusted Types (the console builds its DOM with textContent),
// and no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// file is an embedded file ready to serve.
type file struct {
	body  []byte
	etag  string // strong entity tag: a hash of the content
	ctype string
}

var files = load()

// load reads every embedded file once. The entity tag is the content's
// hash, so a new binary with changed assets never matches a cached copy,
// and an unchanged file revalidates to 304 across restarts and replicas.
func load() map[string]file {
	m := map[string]file{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ct = "text/javascript; charset=utf-8" // mime's table varies by system
		}
		m[path.Base(p)] = file{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ct}
		return nil
	})
	if err != nil {
		panic("console: embedded assets unreadable: " + err.Error())
	}
	return m
}

// Names lists the embedded files (for tests).
func Names() []string {
	out := make([]string, 0, len(files))
	for n := range files {
		out = append(out, n)
	}
	return out
}

// Serve answers GET or HEAD for the embedded file name with its security
// and cache headers, or reports false (the caller answers 404) when there is
// no such file.
func Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	f, ok := files[name]
	if !ok {
		return false
	}
	h := w.Header()
	SetSecurityHeaders(h)
	h.Set("Content-Type", f.ctype)
	// no-cache: the browser may keep a copy but must revalidate it on every
	// use, which costs a 304 and guarantees a new binary's files are used.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	return true
}

// SetSecurityHeaders sets the headers every console response carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}
