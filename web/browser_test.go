package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-message/mail"

	"guichet/mailout"
	"guichet/mailout/relay"
	"guichet/signed"
	"guichet/ticket"
)

// chromium returns the browser to drive. Without one the test is skipped, unless
// GUICHET_TEST_BROWSER=1 (CI) says that it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GUICHET_TEST_BROWSER") == "1" {
		t.Fatal("GUICHET_TEST_BROWSER=1 but no chromium is installed (/usr/bin/chromium)")
	}
	t.Skip("no chromium installed; set GUICHET_TEST_BROWSER=1 to make this a failure")
	return ""
}

// mailedLinks are the links of the requester's solved mail, as delivered.
type mailedLinks struct {
	approve, refuse, view string
}

// lockedBuffer collects the browser's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// deliver runs the sender until the outbox is empty.
func deliver(t *testing.T, e *env, snd *mailout.Sender) {
	t.Helper()
	for range 20 {
		n, err := snd.RunOnce(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox does not empty")
}

// solvedMailLinks reads the Maildir for the requester's solved mail about ticket n and returns
// its links, taken from the text part as the requester's mail client shows them.
func solvedMailLinks(t *testing.T, e *env, dir string, n int64) mailedLinks {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "new", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	base := regexp.QuoteMeta(e.srv.URL)
	approveRE := regexp.MustCompile(base + `/approve/[A-Za-z0-9._-]+`)
	refuseRE := regexp.MustCompile(base + `/refuse/[A-Za-z0-9._-]+`)
	viewRE := regexp.MustCompile(base + `/t/[A-Za-z0-9._-]+`)
	var found []mailedLinks
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mr, err := mail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s does not parse: %v", f, err)
		}
		if got := mr.Header.Get("Delivered-To"); got != client {
			continue
		}
		var text string
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if h, ok := p.Header.(*mail.InlineHeader); ok {
				if ct, _, _ := h.ContentType(); ct == "text/plain" {
					b, err := io.ReadAll(p.Body)
					if err != nil {
						t.Fatal(err)
					}
					text = string(b)
				}
			}
		}
		l := mailedLinks{approve: approveRE.FindString(text), refuse: refuseRE.FindString(text), view: viewRE.FindString(text)}
		if l.approve == "" {
			continue // not a solved mail
		}
		link, err := e.sg.ParseLink(tokenOf(l.approve), e.clock.Now())
		if err != nil {
			t.Fatalf("%s: the approve link does not parse: %v", f, err)
		}
		if link.Number == n {
			if l.refuse == "" || l.view == "" {
				t.Fatalf("%s: the solved mail lacks the refuse or the ticket link:\n%s", f, text)
			}
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d solved mails to %s about ticket %d, want 1", len(found), client, n)
	}
	return found[0]
}

// TestBrowser drives headless Chromium through the links of the delivered mail: approve with a
// comment, refuse (blocked without a reason, then with one), and an approve link used twice.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t)
	dir := t.TempDir()
	tr, err := relay.Open("maildir:"+dir, relay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	snd, err := mailout.NewSender(mailout.Config{Store: e.s, Transport: tr, Signer: e.sg, Templates: e.set,
		Brand: mailout.Brand{Name: "Acme", From: "noreply@example.com"}, Support: "support@example.com",
		BaseURL: e.srv.URL, Types: e.policy.Types, RateLimit: -1, Now: e.clock.Now, Name: "browser-test"})
	if err != nil {
		t.Fatal(err)
	}
	a := e.solved(ticket.English)
	b := e.solved(ticket.English)
	deliver(t, e, snd)
	linksA := solvedMailLinks(t, e, dir, a.number)
	linksB := solvedMailLinks(t, e, dir, b.number)
	if l, err := e.sg.ParseLink(tokenOf(linksA.approve), e.clock.Now()); err != nil || l.Action != signed.LinkApprove ||
		l.Outbox != a.req.ID || l.Solution != a.solution {
		t.Fatalf("the mailed approve link is %+v (%v), want one for row %d and solution %d", l, err, a.req.ID, a.solution)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("lang", "en-US"), chromedp.CombinedOutput(out))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("cannot start %s: %v", exe, err)
	}

	// scenario runs one part with its own deadline, on the shared tab.
	scenario := func(name string, f func(t *testing.T, ctx context.Context)) {
		t.Run(name, func(t *testing.T) {
			sctx, scancel := context.WithTimeout(bctx, 15*time.Second)
			defer scancel()
			f(t, sctx)
		})
	}
	text := func(t *testing.T, ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	open := func(t *testing.T, ctx context.Context, url string, status int64, ready string) {
		t.Helper()
		res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		if res.Status != status {
			t.Errorf("open %s: status %d, want %d", url, res.Status, status)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
			t.Fatalf("open %s: %s never shows: %v", url, ready, err)
		}
		// The stylesheet loads under the Content-Security-Policy.
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		if err != nil || bg != "rgb(243, 244, 246)" {
			t.Errorf("body background %q (%v): the stylesheet did not load", bg, err)
		}
	}
	submit := func(t *testing.T, ctx context.Context, button string) {
		t.Helper()
		res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
		if err != nil {
			t.Fatalf("click %s: %v", button, err)
		}
		if res.Status != http.StatusOK {
			t.Errorf("click %s: status %d, want 200", button, res.Status)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("p.result"))); err != nil {
			t.Fatalf("no result page after %s: %v", button, err)
		}
	}

	const comment = "Works again, thank you!"
	scenario("A approve", func(t *testing.T, ctx context.Context) {
		before := e.state(a.number)
		const button = `form.approve button[type="submit"]`
		open(t, ctx, linksA.approve, http.StatusOK, button)
		if got := text(t, ctx, "h1"); got != "Approve the solution" {
			t.Errorf("title %q", got)
		}
		if got := text(t, ctx, "section.solution"); !strings.Contains(got, solutionText) {
			t.Errorf("the page does not show the solution: %q", got)
		}
		e.unchanged(a.number, before, "opening the approve link in a browser")
		if e.used(linksA.approve) {
			t.Error("opening the link used it")
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#comment"), comment)); err != nil {
			t.Fatal(err)
		}
		submit(t, ctx, button)
		if got := text(t, ctx, "h1"); got != "Solution approved" {
			t.Errorf("result title %q", got)
		}
		if got := text(t, ctx, "p.result"); !strings.Contains(got, "your ticket is closed") {
			t.Errorf("result %q", got)
		}
		tk := e.ticket(a.number)
		if tk.Status != ticket.StatusClosed {
			t.Errorf("ticket is %s, want closed", tk.Status)
		}
		if tk.Requester.Lang != ticket.English {
			t.Errorf("requester's language %q, want en", tk.Requester.Lang)
		}
		ms := e.messages(a.number)
		if last := ms[len(ms)-1]; last.Text != comment || last.Author.Role != ticket.RoleRequester {
			t.Errorf("the comment is stored as %+v", last)
		}
		if evs := e.events(a.number, ticket.EventSolutionApproved); len(evs) != 1 || evs[0].Reason != comment {
			t.Errorf("approval events %+v", evs)
		}
		// The result page leads to the ticket.
		href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`main a[href^="/t/"]`), "href"))
		if err != nil || !href.Exists {
			t.Fatalf("no ticket link on the result page: %v", err)
		}
		res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`main a[href^="/t/"]`)))
		if err != nil || res.Status != http.StatusOK {
			t.Fatalf("follow the ticket link: %v", err)
		}
		if got := text(t, ctx, "section.messages"); !strings.Contains(got, comment) || !strings.Contains(got, firstText) {
			t.Errorf("the ticket page does not show the messages: %q", got)
		}
	})

	scenario("B refuse", func(t *testing.T, ctx context.Context) {
		before := e.state(b.number)
		const button = `form.refuse button[type="submit"]`
		open(t, ctx, linksB.refuse, http.StatusOK, button)
		if got := text(t, ctx, "h1"); got != "Refuse the solution" {
			t.Errorf("title %q", got)
		}
		if got := text(t, ctx, "section.solution"); !strings.Contains(got, solutionText) {
			t.Errorf("the page does not show the solution: %q", got)
		}
		posts := e.posts.Load()
		// An empty reason: the browser's own validation keeps the form from being sent.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
			t.Fatal(err)
		}
		missing, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#reason").validity.valueMissing && document.querySelector("#reason:invalid") !== null`))
		if err != nil || !missing {
			t.Errorf("the empty reason is not flagged by the browser (%v, %v)", missing, err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil || loc != linksB.refuse {
			t.Errorf("the browser is at %q (%v), want still the refuse page", loc, err)
		}
		e.unchanged(b.number, before, "opening the refuse link and clicking without a reason")

		const reason = "The printer still jams on page 2."
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#reason"), reason)); err != nil {
			t.Fatal(err)
		}
		submit(t, ctx, button)
		if got := text(t, ctx, "h1"); got != "Refusal recorded" {
			t.Errorf("result title %q", got)
		}
		if n := e.posts.Load() - posts; n != 1 {
			t.Errorf("the server got %d POSTs, want 1: the empty reason was sent", n)
		}
		tk := e.ticket(b.number)
		if tk.Status != ticket.StatusAssigned || tk.Assignee != agent {
			t.Errorf("ticket is %s to %q, want assigned to %s", tk.Status, tk.Assignee, agent)
		}
		if evs := e.events(b.number, ticket.EventSolutionRefused); len(evs) != 1 || evs[0].Reason != reason {
			t.Errorf("refusal events %+v, want one with reason %q", evs, reason)
		}
	})

	scenario("C approve link again", func(t *testing.T, ctx context.Context) {
		before := e.state(a.number)
		open(t, ctx, linksA.approve, http.StatusConflict, "p.error")
		if got := text(t, ctx, "h1"); got != "This link cannot be used" {
			t.Errorf("title %q", got)
		}
		if got := text(t, ctx, "p.error"); !strings.Contains(got, "already used") && !strings.Contains(got, "no longer waiting") {
			t.Errorf("error %q, want the used or stale text", got)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.forms.length`)); err != nil || n != 0 {
			t.Errorf("the error page has %d forms (%v)", n, err)
		}
		e.unchanged(a.number, before, "opening a used approve link")
	})
}
