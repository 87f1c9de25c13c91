package mailin

import (
	"bytes"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
)

// authenticate says whether the message really comes from the domain of its From address:
// a valid DKIM signature (RFC 6376) by that domain or a parent of it, or an Authentication-Results
// header (RFC 8601) from a trusted server showing DKIM or DMARC pass for it. Anyone can forge a
// From header; agent commands are honoured only for authenticated mail. A DNS failure counts as
// unauthenticated.
func (p *Pipeline) authenticate(raw []byte, h headers, from string) (bool, string) {
	_, domain, ok := strings.Cut(strings.ToLower(from), "@")
	if !ok || domain == "" {
		return false, "the sender has no domain"
	}
	for _, v := range h.Values("Authentication-Results") {
		id, results, err := authres.Parse(v)
		if err != nil || !p.trusted(id) {
			continue
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DKIMResult:
				if r.Value == authres.ResultPass && aligned(domain, r.Domain, r.Identifier) {
					return true, "DKIM pass for " + domain + " reported by " + id
				}
			case *authres.DMARCResult:
				if r.Value == authres.ResultPass && (r.From == "" || aligned(domain, r.From, "")) {
					return true, "DMARC pass for " + domain + " reported by " + id
				}
			}
		}
	}
	if h.Get("DKIM-Signature") == "" {
		return false, "no DKIM signature and no trusted Authentication-Results"
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: p.cfg.LookupTXT, MaxVerifications: 5})
	if err != nil {
		return false, "DKIM: " + err.Error()
	}
	why := "no valid DKIM signature for " + domain
	for _, v := range vs {
		if v.Err != nil {
			why = "DKIM signature of " + v.Domain + ": " + v.Err.Error()
			continue
		}
		if aligned(domain, v.Domain, "") {
			return true, "valid DKIM signature of " + v.Domain
		}
		why = "the DKIM signature is " + v.Domain + "'s, not " + domain + "'s"
	}
	return false, why
}

// aligned reports relaxed alignment: the signing domain is the From domain or a parent of it.
func aligned(fromDomain, signer, identifier string) bool {
	if signer == "" && identifier != "" {
		_, signer, _ = strings.Cut(identifier, "@")
	}
	signer = strings.ToLower(strings.TrimSuffix(signer, "."))
	return signer != "" && (fromDomain == signer || strings.HasSuffix(fromDomain, "."+signer))
}
