// Package web serves the pages that the links in guichet's mail open: a requester's ticket,
// and the approve and refuse pages of a proposed solution.
//
// Every link is signed (signed.Link) and bound to one notification, hence to its recipient. Link
// scanners open every link of every mail, so a GET never changes anything: it shows a page whose
// form POSTs. Approve and refuse links are single use and stop working once the solution they
// answer is no longer the one waiting. Pages load nothing from elsewhere and send a strict
// Content-Security-Policy; tokens never leak through Referer (Referrer-Policy: no-referrer).
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"guichet/mailout"
	"guichet/signed"
	"guichet/store"
	"guichet/templates"
	"guichet/ticket"
)

// Config is what the pages need.
type Config struct {
	Store     *store.Store
	Signer    *signed.Signer
	Templates *templates.Set
	Policy    ticket.Policy
	TagPrefix string
	Brand     string
	Now       func() time.Time
	Logger    *slog.Logger
}

type server struct {
	c Config
}

// Handler returns the pages' handler.
func Handler(c Config) http.Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{c: c}
	mux := http.NewServeMux()
	static, _ := fs.Sub(templates.Static(), ".")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static), 24*time.Hour)))
	mux.HandleFunc("GET /t/{token}", s.ticketPage)
	mux.HandleFunc("GET /t/{token}/files/{message}/{index}", s.file)
	mux.HandleFunc("GET /approve/{token}", s.actionPage(signed.LinkApprove))
	mux.HandleFunc("POST /approve/{token}", s.act(signed.LinkApprove))
	mux.HandleFunc("GET /refuse/{token}", s.actionPage(signed.LinkRefuse))
	mux.HandleFunc("POST /refuse/{token}", s.act(signed.LinkRefuse))
	return secure(mux)
}

// secure sets the headers every response carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheFor(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// visit is a checked link: what it grants, the notification it came in, and the ticket.
type visit struct {
	token  string
	link   signed.Link
	row    store.OutboxRow
	ticket ticket.Ticket
	lang   ticket.Lang
}

// check verifies a link for action and loads what it names. On failure it writes the error
// page and returns false.
func (s *server) check(w http.ResponseWriter, r *http.Request, action string) (visit, bool) {
	v := visit{token: r.PathValue("token"), lang: pageLang(r, "")}
	l, err := s.c.Signer.ParseLink(v.token, s.c.Now())
	switch {
	case errors.Is(err, signed.ErrLinkExpired):
		s.errorPage(w, r, v, http.StatusGone, templates.ErrExpired)
		return v, false
	case err != nil || l.Action != action:
		s.errorPage(w, r, v, http.StatusNotFound, templates.ErrInvalid)
		return v, false
	}
	v.link = l
	ctx := r.Context()
	v.row, err = s.c.Store.OutboxByID(ctx, l.Outbox)
	if err == nil && v.row.Number != l.Number {
		err = store.ErrNotFound
	}
	if err == nil {
		v.ticket, err = s.c.Store.Ticket(ctx, l.Number)
	}
	if err != nil {
		s.storeError(w, r, v, err)
		return v, false
	}
	v.lang = pageLang(r, v.row.Lang)
	if action != signed.LinkView && v.row.Recipient != v.ticket.Requester.Address {
		// Only the requester decides; a participant's copy never carries these links.
		s.errorPage(w, r, v, http.StatusNotFound, templates.ErrInvalid)
		return v, false
	}
	return v, true
}

// answerable checks that an approve or refuse link may still act: unused, and its solution waiting.
func (s *server) answerable(w http.ResponseWriter, r *http.Request, v visit) (ticket.Message, bool) {
	ctx := r.Context()
	used, err := s.c.Store.TokenUsed(ctx, v.token)
	if err != nil {
		s.storeError(w, r, v, err)
		return ticket.Message{}, false
	}
	if used {
		s.errorPage(w, r, v, http.StatusConflict, templates.ErrUsed)
		return ticket.Message{}, false
	}
	sol, ok, err := s.c.Store.Solution(ctx, v.ticket)
	if err != nil {
		s.storeError(w, r, v, err)
		return ticket.Message{}, false
	}
	if !ok || sol.ID != v.link.Solution {
		s.errorPage(w, r, v, http.StatusConflict, templates.ErrStale)
		return ticket.Message{}, false
	}
	return sol, true
}

func (s *server) ticketPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.check(w, r, signed.LinkView)
	if !ok {
		return
	}
	ctx := r.Context()
	msgs, err := s.c.Store.Messages(ctx, v.ticket.ID)
	if err != nil {
		s.storeError(w, r, v, err)
		return
	}
	p := s.page(r, v, templates.PageTicket)
	for _, m := range msgs {
		if m.Visibility != ticket.Public {
			continue
		}
		id := m.ID
		p.Messages = append(p.Messages, *mailout.MessageView(m, v.lang, func(i int) string {
			return fmt.Sprintf("/t/%s/files/%d/%d", v.token, id, i)
		}))
	}
	sol, waiting, err := s.c.Store.Solution(ctx, v.ticket)
	if err != nil {
		s.storeError(w, r, v, err)
		return
	}
	if waiting {
		p.Solution = mailout.MessageView(sol, v.lang, nil)
		if v.row.Recipient == v.ticket.Requester.Address {
			p.CanAct = true
			exp := s.c.Now().Add(mailout.ActionLinkTTL)
			p.ApproveURL = "/approve/" + s.c.Signer.LinkToken(signed.Link{Action: signed.LinkApprove, Number: v.ticket.Number,
				Solution: sol.ID, Outbox: v.row.ID, Expires: exp}) + langQuery(r)
			p.RefuseURL = "/refuse/" + s.c.Signer.LinkToken(signed.Link{Action: signed.LinkRefuse, Number: v.ticket.Number,
				Solution: sol.ID, Outbox: v.row.ID, Expires: exp}) + langQuery(r)
		}
	}
	s.render(w, r, http.StatusOK, p)
}

func (s *server) file(w http.ResponseWriter, r *http.Request) {
	v, ok := s.check(w, r, signed.LinkView)
	if !ok {
		return
	}
	msgID, err1 := strconv.ParseInt(r.PathValue("message"), 10, 64)
	index, err2 := strconv.Atoi(r.PathValue("index"))
	if err1 != nil || err2 != nil {
		s.errorPage(w, r, v, http.StatusNotFound, templates.ErrNotFound)
		return
	}
	msgs, err := s.c.Store.Messages(r.Context(), v.ticket.ID)
	if err != nil {
		s.storeError(w, r, v, err)
		return
	}
	for _, m := range msgs {
		if m.ID != msgID || m.Visibility != ticket.Public || index < 0 || index >= len(m.Attachments) {
			continue
		}
		a := m.Attachments[index]
		data, err := s.c.Store.Blob(r.Context(), a.SHA256)
		if err != nil {
			s.storeError(w, r, v, err)
			return
		}
		name := ticket.SanitizeFilename(a.Filename)
		// Always a download, never rendered in our origin: a hostile HTML or SVG file cannot run.
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
		return
	}
	s.errorPage(w, r, v, http.StatusNotFound, templates.ErrNotFound)
}

func (s *server) actionPage(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.check(w, r, action)
		if !ok {
			return
		}
		sol, ok := s.answerable(w, r, v)
		if !ok {
			return
		}
		s.render(w, r, http.StatusOK, s.actionView(r, v, sol, "", ""))
	}
}

func (s *server) actionView(r *http.Request, v visit, sol ticket.Message, comment, problem string) templates.Page {
	p := s.page(r, v, templates.PageAction)
	p.Action = actionName(v.link.Action)
	p.Solution = mailout.MessageView(sol, v.lang, nil)
	p.Form = r.URL.Path + langQuery(r)
	p.Comment = comment
	p.Error = problem
	return p
}

func actionName(a string) string {
	if a == signed.LinkApprove {
		return "approve"
	}
	return "refuse"
}

// act approves or refuses — only on POST, only from the page's form.
func (s *server) act(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		v, ok := s.check(w, r, action)
		if !ok {
			return
		}
		sol, ok := s.answerable(w, r, v)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		a := ticket.Action{Kind: ticket.ActApprove, Text: strings.TrimSpace(r.PostForm.Get("comment"))}
		if action == signed.LinkRefuse {
			reason := strings.TrimSpace(r.PostForm.Get("reason"))
			if reason == "" {
				s.render(w, r, http.StatusUnprocessableEntity, s.actionView(r, v, sol, "", templates.ErrReasonRequired))
				return
			}
			a = ticket.Action{Kind: ticket.ActRefuse, Reason: reason}
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
		defer cancel()
		_, err := s.c.Store.Apply(ctx, store.ApplyInput{Number: v.ticket.Number, Action: a,
			Actor: ticket.Actor{Role: ticket.RoleRequester, Address: v.ticket.Requester.Address, Name: v.ticket.Requester.Name},
			Now:   s.c.Now(), Solution: v.link.Solution, Token: v.token}, s.c.Policy)
		switch {
		case errors.Is(err, store.ErrUsed):
			s.errorPage(w, r, v, http.StatusConflict, templates.ErrUsed)
			return
		case errors.Is(err, store.ErrStale), errors.Is(err, ticket.ErrInvalidTransition):
			s.errorPage(w, r, v, http.StatusConflict, templates.ErrStale)
			return
		case err != nil:
			s.storeError(w, r, v, err)
			return
		}
		if lang, ok := acceptLang(r); ok && lang != v.ticket.Requester.Lang {
			if err := s.c.Store.SetRequesterLang(ctx, v.ticket.Number, lang); err != nil {
				s.c.Logger.Warn("web: cannot store the requester's language", "ticket", v.ticket.Number, "error", err)
			}
		}
		s.c.Logger.Info("web: solution "+actionName(action)+"d", "ticket", v.ticket.Number, "by", v.ticket.Requester.Address)
		if t, err := s.c.Store.Ticket(ctx, v.ticket.Number); err == nil {
			v.ticket = t
		}
		p := s.page(r, v, templates.PageResult)
		p.Action = actionName(action)
		// The link just used cannot show the result again: the language links lead to the ticket's page.
		p.Langs = langLinks(p.TicketURL)
		p.TicketURL += langQuery(r)
		s.render(w, r, http.StatusOK, p)
	}
}

func (s *server) page(r *http.Request, v visit, kind string) templates.Page {
	p := templates.Page{Kind: kind, Lang: string(v.lang), Brand: s.c.Brand}
	if v.ticket.ID != 0 {
		p.Ticket = mailout.TicketView(v.ticket, v.lang, s.c.Policy.Types, s.c.TagPrefix)
		p.TicketURL = "/t/" + s.c.Signer.LinkToken(signed.Link{Action: signed.LinkView, Number: v.ticket.Number,
			Outbox: v.row.ID, Expires: s.c.Now().Add(mailout.ViewLinkTTL)})
	}
	p.Langs = langLinks(r.URL.Path)
	return p
}

// langLinks are the links that show page in each language.
func langLinks(page string) []templates.LangLink {
	var ls []templates.LangLink
	for _, l := range []string{"en", "fr"} {
		ls = append(ls, templates.LangLink{Lang: l, URL: page + "?lang=" + l})
	}
	return ls
}

func (s *server) storeError(w http.ResponseWriter, r *http.Request, v visit, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, v, http.StatusNotFound, templates.ErrInvalid)
		return
	}
	s.c.Logger.Error("web: store error", "path", r.URL.Path, "error", err)
	s.errorPage(w, r, v, http.StatusServiceUnavailable, templates.ErrUnavailable)
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, v visit, status int, code string) {
	p := templates.Page{Kind: templates.PageError, Lang: string(v.lang), Brand: s.c.Brand, Error: code, Langs: langLinks(r.URL.Path)}
	s.render(w, r, status, p)
}

func (s *server) render(w http.ResponseWriter, r *http.Request, status int, p templates.Page) {
	var buf bytes.Buffer
	if err := s.c.Templates.Page(&buf, p); err != nil {
		s.c.Logger.Error("web: cannot render page", "kind", p.Kind, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// langQuery keeps a language chosen with ?lang= on the links and forms of a page.
func langQuery(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		return "?lang=" + l
	}
	return ""
}

// pageLang is the page's language: ?lang=, else the browser's preference, else the stored one.
func pageLang(r *http.Request, stored ticket.Lang) ticket.Lang {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		return ticket.Lang(l)
	}
	if l, ok := acceptLang(r); ok {
		return l
	}
	if stored == ticket.French {
		return ticket.French
	}
	return ticket.English
}

// acceptLang returns the first of English and French in the browser's Accept-Language, by weight.
func acceptLang(r *http.Request) (ticket.Lang, bool) {
	best, bestQ := ticket.Lang(""), -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		tag = strings.ToLower(tag)
		var l ticket.Lang
		switch {
		case tag == "fr" || strings.HasPrefix(tag, "fr-"):
			l = ticket.French
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = ticket.English
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best, best != "" && bestQ > 0
}
