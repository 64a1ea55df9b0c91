package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	kekOld = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0x00..0x1f
	kekNew = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" // bytes 0x20..0x3f
)

// encryption is NMP_SECRETS_ENCRYPTION with one secret_key provider, current.
func encryption(name, kek string) map[string]string {
	return map[string]string{"NMP_SECRETS_ENCRYPTION": `{"current_provider":"` + name +
		`","providers":{"secret_key":{"` + name + `":{"value":"` + kek + `"}}}}`}
}

// mustDo sends a request that must answer want.
func mustDo(t *testing.T, c *coffer, want int, method, path, body string) {
	t.Helper()
	if res, b := c.do(t, method, path, body); res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
}

// TestBrowserKeyRotation: values written under three key configurations
// (a provider later removed, the development key, a new provider) show on
// the Keys page as rows to rotate and not configured; "Rotate now" asks
// for a typed confirmation, shows the counts and the failed secret by
// name, and the status it shows afterwards is fresh.
func TestBrowserKeyRotation(t *testing.T) {
	dir := t.TempDir()
	c := startCofferIn(t, encryption("old", kekOld), dir)
	mustDo(t, c, 201, "POST", secretsAPI, `{"name":"gone-key","value":"`+valueBulk+`"}`)
	c.stop()

	c = startCofferIn(t, map[string]string{}, dir) // the development key
	mustDo(t, c, 201, "POST", secretsAPI, `{"name":"hf-token","value":"`+valueV1+`"}`)
	mustDo(t, c, 200, "PATCH", secretsAPI+"/hf-token", `{"value":"`+valueV2+`"}`)
	mustDo(t, c, 201, "POST", secretsAPI, `{"name":"wandb-key","value":"`+valueWB+`"}`)
	mustDo(t, c, 204, "DELETE", secretsAPI+"/wandb-key", "")
	c.stop()

	// k2 is current; the development key file is still there, read-only;
	// "old" is not configured any more.
	c = startCofferIn(t, encryption("k2", kekNew), dir)
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/"))
	tb.wait(`document.querySelector('#tabs a[href="#/keys"]')`)
	tb.click(`#tabs a[href="#/keys"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Encryption keys' && document.querySelector('[data-to-rotate]')`)
	wantRows(tb, `development key 2 1 1 1 3 to rotate|old 2 1 0 0 1 not configured`)
	if txt := tb.text(); !strings.Contains(txt, "4 of 4 stored versions to rotate.") ||
		!strings.Contains(txt, "1 stored version on a provider that is not configured cannot be read") {
		t.Errorf("status summary:\n%s", txt)
	}

	// The rotation waits for the typed confirmation.
	tb.click(`.view-head button.primary`)
	tb.wait(`document.querySelector('dialog[open] input[data-confirm]')`)
	if !eval[bool](tb, `document.querySelector('dialog[open] button[type="submit"]').disabled`) {
		t.Error("Rotate now is enabled before the confirmation is typed")
	}
	tb.typeInto(`dialog[open] input[data-confirm]`, "rotate")
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#rotation-result [data-rotated]')`)
	if got := eval[string](tb, `document.querySelector('#rotation-result [data-rotated]').textContent`); got !=
		"Rotated 1 secret and 1 recycle-bin entry (3 versions), skipped 0, failed 1." {
		t.Errorf("result = %q", got)
	}
	if got := eval[string](tb, `document.querySelector('#rotation-result .failures').innerText`); got !=
		"default/gone-key version 1: provider 'old' is not configured" {
		t.Errorf("failures = %q", got)
	}
	// The status is read again: only the unreadable version is left.
	tb.wait(`document.querySelector('[data-to-rotate]')?.dataset.toRotate === '1'`)
	wantRows(tb, `k2 2 1 1 1 3 up to date|old 2 1 0 0 1 not configured`)
	tb.screenshot("keys")
	tb.check(valueV1, valueV2, valueWB, valueBulk)
}

// wantRows checks the status table, rows joined by '|', cells by spaces.
func wantRows(tb *tab, want string) {
	tb.t.Helper()
	got := eval[string](tb, `[...document.querySelectorAll('#key-status tbody tr')].map((r) =>
	  [...r.cells].map((c) => c.textContent).join(' ')).join('|')`)
	if got != want {
		tb.t.Errorf("status rows = %q, want %q", got, want)
	}
}

// TestBrowserKeysOnlyForPlatformAdmins: with auth enabled, the Keys page
// is in the navigation of a PlatformAdmin only; for anyone else the status
// call answers 403 and the page is hidden, and opening its address shows
// the refusal.
func TestBrowserKeysOnlyForPlatformAdmins(t *testing.T) {
	c := startCoffer(t, map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com"})
	open := func(headers network.Headers) *tab {
		tb := newTab(t, 1280, 800)
		if _, err := chromedp.Call(tb.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
			t.Fatal(err)
		}
		tb.do(chromedp.Navigate(c.URL + "/"))
		tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in default' && document.querySelector('#tabs a')`)
		return tb
	}
	admin := open(network.Headers{"X-NMP-Principal-Id": "boss", "X-NMP-Principal-Email": "boss@corp.com"})
	admin.click(`#tabs a[href="#/keys"]`)
	admin.wait(`document.querySelector('h1')?.textContent === 'Encryption keys' && document.querySelector('[data-to-rotate]')`)
	admin.check()

	user := open(network.Headers{"X-NMP-Principal-Id": "alice"})
	if eval[bool](user, `!!document.querySelector('#tabs a[href="#/keys"]')`) {
		t.Error("the Keys page is in a non-admin's navigation")
	}
	user.do(chromedp.Navigate(c.URL + "/#/keys"))
	user.wait(`document.querySelector('#error:not([hidden])')?.textContent === 'Forbidden'`)
	user.check()
}
