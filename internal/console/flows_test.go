package console_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/coffer-dev/coffer/internal/secrets"
)

const secretsAPI = "/apis/secrets/v2/workspaces/default/secrets"

// relativeRecent is how the list shows a time a few seconds old.
var relativeRecent = regexp.MustCompile(`^(just now|\d+ seconds ago)$`)

// Values the console writes; none may ever come back to it.
const (
	valueV1   = "hf_v1-0c4f1b2e9a7d44b5"
	valueV2   = "hf_v2-77aa91e3d0c2b5f8"
	valueWB   = "wandb-5e2d8c1f0a9b"
	valueBulk = "bulk-value-3f9a"
)

// createSecret fills and submits the create dialog.
func createSecret(tb *tab, name, desc, value string) {
	tb.t.Helper()
	tb.click(`.view-head button.primary`)
	tb.wait(`document.querySelector('dialog[open] input[id^="name-"]')`)
	tb.typeInto(`dialog[open] input[id^="name-"]`, name)
	if desc != "" {
		tb.typeInto(`dialog[open] input[id^="desc-"]`, desc)
	}
	tb.typeInto(`dialog[open] input[data-value]`, value)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('tr[data-name="` + name + `"]')`)
}

// rowNames lists the names in the secrets table, in order.
func rowNames(tb *tab) string {
	return eval[string](tb, `[...document.querySelectorAll('tbody tr')].map((r) => r.dataset.name).join(',')`)
}

// waitRows waits until the secrets table lists exactly names, in order.
func waitRows(tb *tab, names string) {
	tb.t.Helper()
	tb.wait(`[...document.querySelectorAll('tbody tr')].map((r) => r.dataset.name).join(',') === '` + names + `'`)
}

// setSelect picks an option as a user would and lets the page react.
func setSelect(tb *tab, sel, value string) {
	tb.t.Helper()
	tb.do(chromedp.Focus(chromedp.CSS(sel)))
	eval[bool](tb, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
	  s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`, sel, value))
}

// setInput replaces an input's text as a user would and lets the page react.
func setInput(tb *tab, sel, value string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
	  s.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`, sel, value))
}

// TestBrowserSecrets drives the secrets pages: empty state, create with the
// name checked as typed, a 422 from the server shown in words, search, sort,
// paging, edit, version restore, delete with typed confirmation and restore
// from the recycle bin; throughout, no value ever reaches the page.
func TestBrowserSecrets(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in default' && document.querySelector('.empty')`)
	if txt := tb.text(); !strings.Contains(txt, "This workspace has no secrets yet.") {
		t.Errorf("empty state missing: %s", txt)
	}

	// The name is checked as it is typed, with the rules in words.
	tb.click(`.view-head button.primary`)
	tb.wait(`document.querySelector('dialog[open] input[id^="name-"]')`)
	tb.typeInto(`dialog[open] input[id^="name-"]`, "Bad--name-")
	tb.wait(`document.querySelector('dialog[open] .rule-summary').textContent.startsWith('Not valid yet')`)
	broken := eval[string](tb, `[...document.querySelectorAll('dialog[open] .rules li[data-ok="false"]')].map((l) => l.textContent).join('|')`)
	for _, want := range []string{"starts with a lowercase letter", "no two hyphens", "does not end with a hyphen"} {
		if !strings.Contains(broken, want) {
			t.Errorf("broken rules %q lack %q", broken, want)
		}
	}
	if got := eval[string](tb, `document.querySelector('dialog[open] input[id^="name-"]').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("aria-invalid = %q on a bad name", got)
	}
	tb.screenshot("create-dialog")
	setInput(tb, `dialog[open] input[id^="name-"]`, "")
	tb.typeInto(`dialog[open] input[id^="name-"]`, "big-desc")
	tb.wait(`document.querySelector('dialog[open] .rule-summary').textContent === 'The name is valid.'`)

	// A 422 from the server is shown in the dialog in words.
	setInput(tb, `dialog[open] input[id^="desc-"]`, strings.Repeat("d", 4097))
	tb.typeInto(`dialog[open] input[data-value]`, "v")
	// The reveal toggle shows what was typed, and hides it again.
	tb.click(`dialog[open] button[data-reveal]`)
	if typ := eval[string](tb, `document.querySelector('dialog[open] input[data-value]').type`); typ != "text" {
		t.Errorf("value input type %q after Show", typ)
	}
	tb.click(`dialog[open] button[data-reveal]`)
	if typ := eval[string](tb, `document.querySelector('dialog[open] input[data-value]').type`); typ != "password" {
		t.Errorf("value input type %q after Hide", typ)
	}
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog[open] [role="alert"]').hidden`)
	if msg := eval[string](tb, `document.querySelector('dialog[open] [role="alert"]').textContent`); msg != "description: String should have at most 4096 characters" {
		t.Errorf("422 shown as %q", msg)
	}
	tb.click(`dialog[open] button[data-cancel]`)
	tb.wait(`!document.querySelector('dialog')`)

	createSecret(tb, "hf-token", "Hugging Face token", valueV1)
	tb.wait(`document.querySelector('#status').textContent === 'Secret hf-token created.'`)
	createSecret(tb, "wandb-key", "Weights & Biases", valueWB)
	createSecret(tb, "alpha-key", "", "alpha-value-1")
	// The last secret created: on a loaded machine the three creations can
	// take longer than the 10 s that "just now" covers.
	if got := eval[string](tb, `document.querySelector('tr[data-name="alpha-key"] time').textContent`); !relativeRecent.MatchString(got) {
		t.Errorf("created shown as %q, want a relative time", got)
	}
	tb.screenshot("secrets")

	// Search, server-side.
	tb.typeInto(`input[type="search"]`, "weights")
	tb.wait(`document.querySelectorAll('tbody tr').length === 1`)
	if got := rowNames(tb); got != "wandb-key" {
		t.Errorf("search 'weights': %s", got)
	}
	setInput(tb, `input[type="search"]`, "nothing-like-it")
	tb.wait(`document.querySelector('.empty')?.textContent.includes('No secrets match')`)
	setInput(tb, `input[type="search"]`, "")
	tb.wait(`document.querySelectorAll('tbody tr').length === 3`)

	// Sort.
	setSelect(tb, `select[id^="sort-"]`, "name")
	waitRows(tb, "alpha-key,hf-token,wandb-key")
	setSelect(tb, `select[id^="sort-"]`, "-name")
	waitRows(tb, "wandb-key,hf-token,alpha-key")

	// Paging over secrets created through the API meanwhile.
	for i := range 10 {
		res, body := c.do(t, "POST", secretsAPI, fmt.Sprintf(`{"name":"bulk-%02d","value":"%s"}`, i, valueBulk))
		if res.StatusCode != 201 {
			t.Fatalf("create bulk-%02d: %d %s", i, res.StatusCode, body)
		}
	}
	setSelect(tb, `select[id^="size-"]`, "10")
	tb.wait(`document.querySelector('.page-info')?.textContent === 'Page 1 of 2 · 13 secrets'`)
	tb.click(`.pager button:last-child`)
	tb.wait(`document.querySelector('.page-info')?.textContent === 'Page 2 of 2 · 13 secrets'`)
	// -name: wandb-key, hf-token, bulk-09 ... bulk-02 | bulk-01, bulk-00, alpha-key
	waitRows(tb, "bulk-01,bulk-00,alpha-key")
	tb.click(`.pager button:first-child`)
	tb.wait(`document.querySelector('.page-info')?.textContent === 'Page 1 of 2 · 13 secrets'`)

	// Edit: description and a new value (a new version).
	tb.click(`button[aria-label="Edit hf-token"]`)
	tb.wait(`document.querySelector('dialog[open] input[id^="desc-"]')?.value === 'Hugging Face token'`)
	setInput(tb, `dialog[open] input[id^="desc-"]`, "HF token (rotated)")
	tb.typeInto(`dialog[open] input[data-value]`, valueV2)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#status').textContent.includes('a new version was created')`)
	tb.wait(`document.querySelector('tr[data-name="hf-token"]')?.textContent.includes('HF token (rotated)')`)

	// Versions: restore version 1 as version 3.
	tb.click(`tr[data-name="hf-token"] a`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Versions of hf-token' && document.querySelector('tr[data-version="1"]')`)
	tb.screenshot("versions")
	tb.click(`button[aria-label="Restore version 1"]`)
	tb.wait(`document.querySelector('dialog[open]')`)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('tr[data-version="3"] .badge')`)
	if _, body := c.do(t, "GET", secretsAPI+"/hf-token/access", ""); !strings.Contains(body, valueV1) {
		t.Errorf("after restoring version 1 the value is not version 1's")
	}

	// Delete with typed confirmation, then restore from the recycle bin.
	tb.do(chromedp.Navigate(c.URL + "/#/ws/default"))
	tb.wait(`document.querySelector('tr[data-name="wandb-key"]')`)
	tb.click(`button[aria-label="Delete wandb-key"]`)
	tb.wait(`document.querySelector('dialog[open] input[data-confirm]')`)
	if !eval[bool](tb, `document.querySelector('dialog[open] button[type="submit"]').disabled`) {
		t.Error("delete enabled before the name was typed")
	}
	tb.typeInto(`dialog[open] input[data-confirm]`, "wandb-ke")
	if !eval[bool](tb, `document.querySelector('dialog[open] button[type="submit"]').disabled`) {
		t.Error("delete enabled with a partial name")
	}
	tb.typeInto(`dialog[open] input[data-confirm]`, "y")
	tb.wait(`!document.querySelector('dialog[open] button[type="submit"]').disabled`)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && !document.querySelector('tr[data-name="wandb-key"]')`)
	if res, _ := c.do(t, "GET", secretsAPI+"/wandb-key", ""); res.StatusCode != 404 {
		t.Errorf("deleted secret: GET %d", res.StatusCode)
	}

	tb.click(`#tabs a[href$="/bin"]`)
	tb.wait(`document.querySelector('tr[data-name="wandb-key"]')`)
	tb.screenshot("recycle-bin")
	tb.click(`button[aria-label="Restore wandb-key"]`)
	tb.wait(`document.querySelector('#status').textContent === 'Secret wandb-key restored.'`)
	tb.wait(`document.querySelector('.empty')`)
	if res, _ := c.do(t, "GET", secretsAPI+"/wandb-key", ""); res.StatusCode != 200 {
		t.Errorf("restored secret: GET %d", res.StatusCode)
	}

	// The audit trail shows the writes, filterable: the refused create is
	// there as invalid.
	tb.click(`#tabs a[href$="/audit"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Audit trail of default' && document.querySelector('tr[data-action="secret.create"]')`)
	setSelect(tb, `select[id^="aoutcome-"]`, "invalid")
	tb.click(`form[role="search"] button[type="submit"]`)
	tb.wait(`document.querySelectorAll('tbody tr').length > 0 && [...document.querySelectorAll('tbody tr')].every((r) => r.dataset.outcome === 'invalid')`)
	if !eval[bool](tb, `!!document.querySelector('tr[data-action="secret.create"][data-outcome="invalid"]')`) {
		t.Error("the refused create is not in the audit trail")
	}
	tb.screenshot("audit")

	// The check reads what the page received: the secret names are there
	// (so the bodies were read), the values are not.
	if n := tb.check(valueV1, valueV2, valueWB, valueBulk); n < 20 {
		t.Errorf("only %d API response bodies checked", n)
	}
}

// TestBrowserWorkspacesMembers creates a workspace, manages its members,
// deletes it, triggers key rotation, checks keyboard use and the phone
// layout.
func TestBrowserWorkspacesMembers(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in default'`)

	// Keyboard: the create dialog opens with Enter, takes focus, closes
	// with Escape and gives focus back; the focus ring is visible.
	tb.do(chromedp.Focus(chromedp.CSS(`.view-head button.primary`)), chromedp.KeyEvent(kb.Enter))
	tb.wait(`document.activeElement?.matches('dialog[open] input[id^="name-"]')`)
	if style := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); style == "none" {
		t.Error("focused input shows no focus ring")
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog') && document.activeElement?.textContent === 'New secret'`)

	// Create a workspace; the console switches to it.
	tb.click(`#ws-new`)
	tb.wait(`document.querySelector('dialog[open] input[id^="name-"]')`)
	tb.typeInto(`dialog[open] input[id^="name-"]`, "team-ml")
	tb.typeInto(`dialog[open] input[id^="desc-"]`, "ML team")
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in team-ml' && document.querySelector('#ws-select').value === 'team-ml'`)

	// Members: add, change role, remove.
	tb.click(`#tabs a[href$="/members"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Members of team-ml'`)
	tb.typeInto(`form.add-member input`, "alice@example.com")
	tb.click(`form.add-member button[type="submit"]`)
	tb.wait(`document.querySelector('tr[data-principal="alice@example.com"]')`)
	tb.screenshot("members")
	setSelect(tb, `select[aria-label="Role of alice@example.com"]`, "Viewer")
	tb.wait(`document.querySelector('#status').textContent === 'alice@example.com is now Viewer in team-ml.'`)
	var members struct {
		Data []struct {
			Principal string   `json:"principal"`
			Roles     []string `json:"roles"`
		} `json:"data"`
	}
	_, body := c.do(t, "GET", "/apis/entities/v2/workspaces/team-ml/members", "")
	if err := json.Unmarshal([]byte(body), &members); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range members.Data {
		if m.Principal == "alice@example.com" {
			found = true
			if len(m.Roles) != 1 || m.Roles[0] != "Viewer" {
				t.Errorf("alice's roles %v, want [Viewer]", m.Roles)
			}
		}
	}
	if !found {
		t.Errorf("alice is not a member: %s", body)
	}
	tb.click(`button[aria-label="Remove alice@example.com"]`)
	tb.wait(`document.querySelector('dialog[open]')`)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('tr[data-principal="alice@example.com"]') && document.querySelector('#status').textContent.includes('removed')`)

	// An API refusal is shown in words: the built-in workspace cannot go.
	tb.do(chromedp.Navigate(c.URL + "/#/ws/default/members"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Members of default' && document.querySelector('.danger-zone button')`)
	tb.click(`.danger-zone button`)
	tb.typeInto(`dialog[open] input[data-confirm]`, "default")
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('dialog[open] [role="alert"]')?.textContent === "Cannot delete the built-in workspace 'default'"`)
	tb.do(chromedp.KeyEvent(kb.Escape))

	// Delete the new workspace with typed confirmation.
	tb.do(chromedp.Navigate(c.URL + "/#/ws/team-ml/members"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Members of team-ml' && document.querySelector('.danger-zone button')`)
	tb.click(`.danger-zone button`)
	tb.typeInto(`dialog[open] input[data-confirm]`, "team-ml")
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in default' && ![...document.querySelectorAll('#ws-select option')].some((o) => o.value === 'team-ml')`)
	if res, _ := c.do(t, "GET", "/apis/entities/v2/workspaces/team-ml", ""); res.StatusCode != 404 {
		t.Errorf("deleted workspace: GET %d", res.StatusCode)
	}

	// Key rotation.
	if res, body := c.do(t, "POST", secretsAPI, `{"name":"k1","value":"`+valueV1+`"}`); res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	tb.click(`#tabs a[href="#/keys"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Encryption keys'`)
	tb.click(`main button.primary`)
	tb.typeInto(`dialog[open] input[data-confirm]`, "rotate")
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('#rotation-result .ok')?.textContent.startsWith('Rotated ')`)
	tb.check(valueV1)

	// Phone width: no sideways scrolling, rows become cards.
	phone := newTab(t, 390, 844)
	phone.do(chromedp.Navigate(c.URL + "/"))
	phone.wait(`document.querySelector('tr[data-name="k1"]')`)
	if w := eval[int](phone, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("phone width: page is %d px wide, scrolls sideways", w)
	}
	if d := eval[string](phone, `getComputedStyle(document.querySelector('tbody tr')).display`); d != "block" {
		t.Errorf("phone width: rows display %q, want cards (block)", d)
	}
	phone.screenshot("phone")
	phone.check(valueV1)
}

// TestBrowserNameRulesMatchServer checks that the rules the create dialogs
// apply as the user types accept exactly the names the server accepts.
func TestBrowserNameRulesMatchServer(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/console/icon.svg")) // same origin, no app running
	names := []string{"", "a", "ab", "hf-token", "hf--token", "hf-", "-hf", "Hf", "hf.token_2", "9lives", "a@b",
		"team@corp.com", "a+b_c.d-e", "é-key", "ab\u00a0c", "hf token", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"a.", "a_", "a..b", "a__b", "x-y-z"}
	js, _ := json.Marshal(names)
	got, err := chromedp.Run(tb.ctx, chromedp.Evaluate[map[string][]bool](`import('/console/names.js').then((m) => {
	  const names = `+string(js)+`;
	  return { secret: names.map((n) => m.broken(m.secretNameRules, n).length === 0),
	           workspace: names.map((n) => m.broken(m.workspaceNameRules, n).length === 0) };
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if want := secrets.CheckSecretName(n) == secrets.NameOK; got["secret"][i] != want {
			t.Errorf("secret name %q: console says valid=%v, server %v", n, got["secret"][i], want)
		}
		if want := secrets.ValidWorkspaceName(n); got["workspace"][i] != want {
			t.Errorf("workspace name %q: console says valid=%v, server %v", n, got["workspace"][i], want)
		}
	}
}

// TestBrowserBehindGateway runs the console with auth enabled behind a
// gateway that injects identity headers (here the test sets them on every
// request the browser makes, as the gateway would): the console has
// exactly the caller's permissions, and a refusal is shown in words. An
// anonymous browser is told to sign in.
func TestBrowserBehindGateway(t *testing.T) {
	c := startCoffer(t, map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com"})
	admin := "X-NMP-Principal-Id: admin1"
	if res, body := c.do(t, "POST", "/apis/entities/v2/workspaces", `{"name":"ml"}`, admin); res.StatusCode != 201 {
		t.Fatalf("create workspace: %d %s", res.StatusCode, body)
	}
	if res, body := c.do(t, "POST", "/apis/entities/v2/workspaces/ml/members", `{"principal":"viewer1","roles":["Viewer"]}`, admin); res.StatusCode != 201 {
		t.Fatalf("add viewer: %d %s", res.StatusCode, body)
	}
	if res, body := c.do(t, "POST", "/apis/secrets/v2/workspaces/ml/secrets", `{"name":"hf-token","value":"`+valueV1+`"}`, admin); res.StatusCode != 201 {
		t.Fatalf("create secret: %d %s", res.StatusCode, body)
	}

	anon := newTab(t, 1280, 800)
	anon.do(chromedp.Navigate(c.URL + "/"))
	anon.wait(`document.querySelector('h1')?.textContent === 'Sign-in required'`)

	tb := newTab(t, 1280, 800)
	if _, err := chromedp.Call(tb.ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-NMP-Principal-Id": "viewer1"}}); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Navigate(c.URL + "/#/ws/ml"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in ml' && document.querySelector('tr[data-name="hf-token"]')`)
	tb.click(`.view-head button.primary`)
	tb.wait(`document.querySelector('dialog[open] input[id^="name-"]')`)
	tb.typeInto(`dialog[open] input[id^="name-"]`, "wandb-key")
	tb.typeInto(`dialog[open] input[data-value]`, valueWB)
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`document.querySelector('dialog[open] [role="alert"]')?.textContent === 'Forbidden'`)
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)
	if res, _ := c.do(t, "GET", "/apis/secrets/v2/workspaces/ml/secrets/wandb-key", "", admin); res.StatusCode != 404 {
		t.Errorf("a Viewer's create went through: GET %d", res.StatusCode)
	}
	tb.check(valueV1, valueWB)
}

// pemKey is a multi-line value as people paste it: a PEM private key.
const pemKey = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH3x9qGz0kq1m2pL\nZ8nYt4vW6rUeJc0aQbXoF5sDi7Tg\n-----END PRIVATE KEY-----\n"

// TestBrowserMultiLineValue types a PEM key into the create dialog's
// multi-line mode: it is masked while typed, revealed only on request,
// stored with its line breaks intact, and never shown after saving.
// Pasting several lines into the one-line field switches to multi-line
// instead of losing the breaks.
func TestBrowserMultiLineValue(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Secrets in default'`)

	tb.click(`.view-head button.primary`)
	tb.wait(`document.querySelector('dialog[open] input[id^="name-"]')`)
	tb.typeInto(`dialog[open] input[id^="name-"]`, "tls-key")
	tb.click(`dialog[open] button[data-multiline]`)
	tb.wait(`document.activeElement?.matches('dialog[open] textarea[data-value]')`)
	if got := eval[string](tb, `document.querySelector('dialog[open] button[data-multiline]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("Multi-line aria-pressed = %q", got)
	}
	if id := eval[string](tb, `document.querySelector('dialog[open] label[for^="value-"]').htmlFor === document.querySelector('dialog[open] textarea[data-value]').id ? 'ok' : 'unlabelled'`); id != "ok" {
		t.Error("the multi-line value has no label")
	}
	tb.typeInto(`dialog[open] textarea[data-value]`, pemKey)
	masked := `getComputedStyle(document.querySelector('dialog[open] textarea[data-value]')).webkitTextSecurity`
	if got := eval[string](tb, masked); got != "disc" {
		t.Errorf("typed multi-line value is not masked: -webkit-text-security %q", got)
	}
	tb.screenshot("multiline-masked")
	tb.click(`dialog[open] button[data-reveal]`)
	if got := eval[string](tb, masked); got != "none" {
		t.Errorf("revealed multi-line value still masked: %q", got)
	}
	tb.click(`dialog[open] button[data-reveal]`)
	if got := eval[string](tb, masked); got != "disc" {
		t.Errorf("hidden again, the value is not masked: %q", got)
	}
	// Back to one line is refused while the value has line breaks.
	tb.click(`dialog[open] button[data-multiline]`)
	if !eval[bool](tb, `!!document.querySelector('dialog[open] textarea[data-value]')`) {
		t.Error("switching to one line dropped a multi-line value")
	}
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('tr[data-name="tls-key"]')`)
	if _, body := c.do(t, "GET", secretsAPI+"/tls-key/access", ""); !strings.Contains(body, `"value":`+jsonString(pemKey)) {
		t.Errorf("stored value is not the typed PEM key with its line breaks: %s", body)
	}

	// Pasting several lines into the one-line field.
	tb.click(`button[aria-label="Edit tls-key"]`)
	tb.wait(`document.querySelector('dialog[open] input[data-value]')`)
	if eval[bool](tb, `!!document.querySelector('dialog[open] textarea')`) {
		t.Error("the edit dialog opened in multi-line mode")
	}
	eval[bool](tb, `(() => { const dt = new DataTransfer(); dt.setData('text/plain', `+jsonString(pemKey)+`);
	  document.querySelector('dialog[open] input[data-value]').dispatchEvent(new ClipboardEvent('paste',
	    { clipboardData: dt, bubbles: true, cancelable: true })); return true; })()`)
	tb.wait(`document.querySelector('dialog[open] textarea[data-value]')?.value === ` + jsonString(pemKey))
	if got := eval[string](tb, masked); got != "disc" {
		t.Errorf("pasted multi-line value is not masked: %q", got)
	}
	tb.click(`dialog[open] button[type="submit"]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#status').textContent.includes('a new version was created')`)
	if _, body := c.do(t, "GET", secretsAPI+"/tls-key", ""); !strings.Contains(body, `"current_version":2`) {
		t.Errorf("the pasted value made no version 2: %s", body)
	}
	if _, body := c.do(t, "GET", secretsAPI+"/tls-key/access", ""); !strings.Contains(body, jsonString(pemKey)) {
		t.Errorf("pasted value not stored with its line breaks: %s", body)
	}
	// Each line of the key is looked for, so a value shown with its line
	// breaks changed would still be caught.
	var lines []string
	for _, l := range strings.Split(pemKey, "\n") {
		if strings.HasPrefix(l, "MC4") || strings.HasPrefix(l, "Z8n") {
			lines = append(lines, l)
		}
	}
	tb.check(lines...)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserGlobalAudit: a PlatformAdmin (through identity headers, as a
// gateway sends them) gets the "All audit" page with events of every
// workspace, filterable by workspace; a workspace Admin does not see the
// entry, because the API refuses them the global trail.
func TestBrowserGlobalAudit(t *testing.T) {
	c := startCoffer(t, map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com"})
	for _, ws := range []string{"ml", "web"} {
		if res, body := c.do(t, "POST", "/apis/entities/v2/workspaces", `{"name":"`+ws+`"}`, "X-NMP-Principal-Id: lead-"+ws); res.StatusCode != 201 {
			t.Fatalf("create workspace %s: %d %s", ws, res.StatusCode, body)
		}
		if res, body := c.do(t, "POST", "/apis/secrets/v2/workspaces/"+ws+"/secrets", `{"name":"k-`+ws+`","value":"`+valueV1+`"}`, "X-NMP-Principal-Id: lead-"+ws); res.StatusCode != 201 {
			t.Fatalf("create secret: %d %s", res.StatusCode, body)
		}
	}

	lead := newTab(t, 1280, 800)
	setHeaders(t, lead, "X-NMP-Principal-Id", "lead-ml")
	lead.do(chromedp.Navigate(c.URL + "/#/ws/ml"))
	lead.wait(`document.querySelector('tr[data-name="k-ml"]')`)
	if eval[bool](lead, `!!document.querySelector('#tabs a[href="#/audit"]')`) {
		t.Error("a workspace Admin sees the platform audit entry")
	}
	if !eval[bool](lead, `!!document.querySelector('#tabs a[href$="/audit"]')`) {
		t.Error("the workspace audit entry is missing")
	}

	tb := newTab(t, 1280, 800)
	setHeaders(t, tb, "X-NMP-Principal-Id", "boss", "X-NMP-Principal-Email", "boss@corp.com")
	tb.do(chromedp.Navigate(c.URL + "/#/ws/ml"))
	tb.wait(`document.querySelector('#tabs a[href="#/audit"]')`)
	tb.click(`#tabs a[href="#/audit"]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Audit trail of all workspaces' && document.querySelectorAll('tr[data-action="secret.create"]').length === 2`)
	if got := eval[string](tb, `[...document.querySelectorAll('tr[data-action="secret.create"] td[data-label="Workspace"]')].map((c) => c.textContent).sort().join(',')`); got != "ml,web" {
		t.Errorf("workspaces of the creates: %q, want ml,web", got)
	}
	tb.typeInto(`input[id^="aworkspace-"]`, "web")
	tb.click(`form[role="search"] button[type="submit"]`)
	tb.wait(`document.querySelectorAll('tbody tr').length > 0 && [...document.querySelectorAll('td[data-label="Workspace"]')].every((c) => c.textContent === 'web')`)
	tb.screenshot("audit-all")
	tb.check(valueV1)
	lead.check(valueV1)
}

// setHeaders makes the tab send identity headers on every request, as a
// gateway in front of Coffer would add them.
func setHeaders(t *testing.T, tb *tab, kv ...string) {
	t.Helper()
	hs := network.Headers{}
	for i := 0; i+1 < len(kv); i += 2 {
		hs[kv[i]] = kv[i+1]
	}
	if _, err := chromedp.Call(tb.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs}); err != nil {
		t.Fatal(err)
	}
}
