package console_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser tests drive Debian's real headless Chromium against a real Coffer
// on loopback. One browser serves the whole test binary; each test opens its
// own tabs. Without Chromium they skip with a message, unless
// COFFER_REQUIRE_CHROMIUM=1 (CI) makes that a failure.

var updateScreenshots = flag.Bool("update-screenshots", false, "write the screenshots of docs/console.md to docs/console/")

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	browserStop func()
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if browserStop != nil {
		browserStop()
	}
	os.Exit(code)
}

// chromiumPath finds the browser: $COFFER_CHROMIUM or Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("COFFER_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// browser returns the shared browser's context, starting it on first use.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("COFFER_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("Chromium not found and COFFER_REQUIRE_CHROMIUM=1: apt-get install -y chromium")
		}
		t.Skip("Chromium not found: browser tests skipped (apt-get install -y chromium, or set COFFER_CHROMIUM)")
	}
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coffer-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.UserDataDir(dir),
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-first-run", true),
			chromedp.WindowSize(1280, 800),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		browserStop = func() { cancel(); cancelAlloc(); os.RemoveAll(dir) }
		browserCtx, browserErr = ctx, chromedp.Do(ctx) // starts the browser
	})
	if browserErr != nil {
		t.Fatalf("starting Chromium: %v", browserErr)
	}
	return browserCtx
}

// tab is one browser tab with everything it saw recorded: requests, API
// response ids, uncaught exceptions and CSP violations.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	requests []string            // "METHOD URL"
	apiIDs   []network.RequestID // finished responses from /apis/
	apiURL   map[network.RequestID]string
	problems []string // exceptions and CSP violations
}

// cspProbe records securitypolicyviolation events in the page, on top of
// the browser log, so a violation cannot go unnoticed either way. DevTools
// injects it, so the page's own CSP does not apply to it.
const cspProbe = `window.__csp = []; document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

func newTab(t *testing.T, width, height int64) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	tb := &tab{t: t, ctx: ctx, apiURL: map[network.RequestID]string{}}
	t.Cleanup(func() { cancelTimeout(); cancel() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	if err := chromedp.Listen(ctx, tb.event); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.EmulateViewport(width, height))
	return tb
}

func (tb *tab) event(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.Method+" "+ev.Request.URL)
		if strings.Contains(ev.Request.URL, "/apis/") {
			tb.apiURL[ev.RequestID] = ev.Request.Method + " " + ev.Request.URL
		}
	case *network.EventLoadingFinished:
		if _, ok := tb.apiURL[ev.RequestID]; ok {
			tb.apiIDs = append(tb.apiIDs, ev.RequestID)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Source == log.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy") ||
			strings.Contains(e.Text, "Trusted Type") {
			tb.problems = append(tb.problems, "CSP: "+e.Text)
		}
	}
}

// do runs actions, failing the test on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v\n%s", err, tb.dump())
	}
}

// eval evaluates a JavaScript expression and returns its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds.
func (tb *tab) wait(cond string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[any](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		tb.t.Fatalf("waiting for %s: %v\n%s", cond, err, tb.dump())
	}
}

// dump describes the page for a failure message.
func (tb *tab) dump() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText`))
	return "page: " + s
}

// click clicks the first element matching a CSS selector.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into the element matching sel, as keystrokes.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// text returns the text of the page's main area and messages.
func (tb *tab) text() string {
	return eval[string](tb, `document.body.innerText`)
}

// check fails on exceptions and CSP violations so far, on any request for a
// secret's value, and on any given value found in the DOM (markup and
// control values) or in any API response the page received. It returns how
// many API response bodies it read.
func (tb *tab) check(values ...string) int {
	tb.t.Helper()
	for _, v := range eval[[]string](tb, `window.__csp || []`) {
		tb.t.Errorf("CSP violation reported in the page: %s", v)
	}
	dom := eval[string](tb, `document.documentElement.outerHTML + '\n' +
	  [...document.querySelectorAll('input, textarea, select')].map((e) => e.value).join('\n')`)
	tb.mu.Lock()
	problems := append([]string(nil), tb.problems...)
	requests := append([]string(nil), tb.requests...)
	ids := append([]network.RequestID(nil), tb.apiIDs...)
	tb.mu.Unlock()
	for _, p := range problems {
		tb.t.Error(p)
	}
	for _, r := range requests {
		if strings.Contains(r, "/access") {
			tb.t.Errorf("the console requested a value: %s", r)
		}
	}
	for _, v := range values {
		if strings.Contains(dom, v) {
			tb.t.Errorf("a stored value is in the DOM")
		}
	}
	read := 0
	for _, id := range ids {
		res, err := chromedp.Call(tb.ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
		if err != nil {
			continue // no body (204)
		}
		read++
		for _, v := range values {
			if strings.Contains(string(res.Body), v) {
				tb.t.Errorf("a stored value is in the response to %s", tb.apiURL[id])
			}
		}
	}
	return read
}

// screenshot saves the viewport as docs/console/name.png with
// -update-screenshots.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	if !*updateScreenshots {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// TestBrowserCSPProbe shows the tab notices a CSP violation, so that the
// zero-violation checks of the other tests mean something: an inline style
// added to the console page must be reported.
func TestBrowserCSPProbe(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/"))
	tb.wait(`document.querySelector('h1')`)
	eval[bool](tb, `(() => { const s = document.createElement('style'); s.textContent = 'body { color: red }';
	  document.head.append(s); return true; })()`)
	tb.wait(`window.__csp.length > 0`)
	if v := eval[[]string](tb, `window.__csp`); !strings.Contains(v[0], "style-src") {
		t.Errorf("violation %q, want style-src", v)
	}
	// The browser log reports it too.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tb.mu.Lock()
		n := len(tb.problems)
		tb.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the browser log reported no CSP violation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Log(tb.problems)
}
