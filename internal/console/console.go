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

// CSP is the Content-Security-Policy of every console response when the
// console has no sign-in: scripts, styles and fetches from this origin only,
// no inline code, no eval, DOM sinks behind Trusted Types (the console
// builds its DOM with textContent), and no framing. With sign-in, connect-src
// also names the identity provider's token endpoint origin (Console.CSP).
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
		ct := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ct = "text/javascript; charset=utf-8" // mime's table varies by system
		}
		m[path.Base(p)] = newFile(b, ct)
		return nil
	})
	if err != nil {
		panic("console: embedded assets unreadable: " + err.Error())
	}
	return m
}

// newFile is a body ready to serve; its entity tag is the content's hash.
func newFile(b []byte, ctype string) file {
	sum := sha256.Sum256(b)
	return file{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
}

// Names lists the embedded files (for tests).
func Names() []string {
	out := make([]string, 0, len(files))
	for n := range files {
		out = append(out, n)
	}
	return out
}

// SetSecurityHeaders sets the headers every response of this console carries.
func (c *Console) SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", c.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// Serve answers GET or HEAD for name: an embedded file, the sign-in
// callback page (the console's page under CallbackPath) or the console's
// settings (ConfigName), with the security and cache headers; it reports
// false (the caller answers 404) when there is no such file.
func (c *Console) Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	var f file
	switch name {
	case ConfigName:
		f = c.config
	case callbackName:
		f = files[IndexName]
	default:
		var ok bool
		if f, ok = files[name]; !ok {
			return false
		}
	}
	h := w.Header()
	c.SetSecurityHeaders(h)
	h.Set("Content-Type", f.ctype)
	// no-cache: the browser may keep a copy but must revalidate it on every
	// use, which costs a 304 and guarantees a new binary's files are used.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	return true
}
