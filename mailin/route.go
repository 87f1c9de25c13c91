package mailin

import (
	"strings"

	"guichet/ticket"
)

// recipientHeaders are where the support address that was written to can be found, in order:
// the visible recipients, then what forwarding and redirecting servers leave.
var recipientHeaders = []string{"To", "Cc", "Delivered-To", "X-Original-To", "X-Forwarded-To", "Resent-To", "Resent-Cc", "Envelope-To", "X-Envelope-To"}

// allRecipients lists every address the message was sent to, envelope recipients first.
func allRecipients(h headers, envelope []string) []string {
	out := append([]string(nil), envelope...)
	for _, name := range recipientHeaders {
		for _, v := range h.Values(name) {
			for _, a := range splitAddressList(v) {
				out = append(out, a.Address)
			}
		}
	}
	return out
}

// route picks the route of the first support address the message was written to; the first
// configured support address when none is (mail that reached us by a redirect we cannot see).
func (p *Pipeline) route(recipients []string) Route {
	for _, r := range recipients {
		if base, ok := p.ours(r); ok && p.isSupport(base) {
			return p.routeFor(base)
		}
	}
	if len(p.cfg.SupportAddresses) > 0 {
		return p.routeFor(p.cfg.SupportAddresses[0])
	}
	return Route{}
}

func (p *Pipeline) routeFor(address string) Route {
	r, ok := p.cfg.Routes[address]
	if !ok {
		r = Route{}
	}
	r.Address = address
	if r.Lang == "" {
		r.Lang = ticket.English
	}
	return r
}

// splitAddressList reads a header's address list leniently.
func splitAddressList(v string) []Address {
	var out []Address
	for _, part := range strings.Split(v, ",") {
		if a := parseLooseAddress(part); a.Address != "" {
			out = append(out, a)
		}
	}
	return out
}
