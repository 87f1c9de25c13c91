// Package templates holds guichet's notification mails and small web pages, in English and
// French, and renders them.
//
// The templates are embedded in the binary. [Load] parses them, then the files of an override
// directory, and checks them all by rendering every mail kind and every page kind in both
// languages with sample data; [Set.Mail] renders a notification (subject, text, HTML),
// [Set.Page] a web page, and [Static] is the stylesheet the pages load from /static/.
// The data the templates see is defined in data.go: [Mail] for mails, [Page] for pages.
//
// # Files
//
//	mail/layout.html           html/template, all languages: defines "html", the HTML document around
//	                           every mail: <html lang>, the reply marker first in a small grey paragraph,
//	                           then the kind's "body". Inline styles only, no images, no scripts.
//	mail/<lang>/common.txt     text/template: the blocks the text mails share ("greeting", "message",
//	                           "ticketlink", "agentlink", "facts").
//	mail/<lang>/common.html    html/template: the same blocks for the HTML mails, plus "plain" (text with
//	                           its line breaks kept) and "quote".
//	mail/<lang>/<kind>.txt     text/template: defines "subject" and "text" of one mail kind
//	                           (created.txt, solved.txt, agent_new.txt … one per entry of [Kinds]).
//	mail/<lang>/<kind>.html    html/template: defines "body", the HTML mail's content.
//	web/layout.html            html/template, all languages: defines "page", the HTML5 document around
//	                           every page (viewport, /static/guichet.css, the language switch "langs").
//	web/<lang>/common.html     the blocks the pages share ("langs", "message", "ticketsummary",
//	                           "errortitle", "errortext", "formerror", "plain").
//	web/<lang>/<page>.html     defines "title" and "main" of one page: ticket.html, action.html,
//	                           result.html, error.html.
//	static/guichet.css         the pages' stylesheet, served as /static/guichet.css.
//
// <lang> is en or fr. A mail kind is parsed as common.txt then <kind>.txt (text), and layout.html,
// common.html then <kind>.html (HTML); a page as web/layout.html, web/<lang>/common.html then
// web/<lang>/<page>.html. The kind's file comes last, so it may redefine a shared block for itself.
// Template functions: lines (a text's lines), breaks (a text as HTML, its lines escaped with <br> between them), trim, summary (kind, lang → [Summary]),
// langName ("Français"), plural (n, one, many).
//
// # Overriding
//
// Load(dir) reads dir with the same layout: a file there replaces the embedded file with the same
// relative path, so a team changes one file (say dir/mail/fr/created.txt) and keeps the others.
// A file of dir that matches no embedded template is an error (a typo would otherwise go
// unnoticed); names starting with "." are skipped; the static files cannot be overridden. Load
// fails, naming the file and the problem, when an override does not parse, does not define what it
// must, refers to a field that does not exist, or renders something the rest of guichet cannot
// use: a subject not starting with the ticket's tag and subject, a requester mail not ending with
// the link to the ticket, an HTML mail without the reply marker, a page with style attributes,
// <style> or <script> (the Content-Security-Policy blocks them).
//
// # Rendering
//
// Mail subjects are made one line (line breaks and runs of spaces become one space, trimmed). Text
// bodies are tidied — LF line ends, no trailing spaces, at most one blank line in a row — and
// start with [Mail].Marker and a blank line when it is set. HTML is escaped by html/template
// everywhere except [Message].HTML, which is sanitized already. An unknown language renders in
// English; an unknown kind is an error.
package templates
