package signed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Link actions.
const (
	LinkView    = "v" // the ticket's page
	LinkApprove = "a" // approve the waiting solution
	LinkRefuse  = "r" // refuse it
)

// Link is what a signed web link grants: an action on a ticket, for the recipient of one
// notification (the outbox row that carried it), until Expires. Approve and refuse links also
// name the solution they answer, so that they stop working once it is no longer the one waiting.
type Link struct {
	Action   string
	Number   int64 // the ticket
	Solution int64 // the solution's message; 0 for a view link
	Outbox   int64 // the notification the link was sent in: its recipient is the one the link is for
	Expires  time.Time
}

// Link errors.
var (
	ErrLinkInvalid = errors.New("the link is not valid")
	ErrLinkExpired = errors.New("the link has expired")
)

// linkKey derives the links' HMAC-SHA256 key from the installation secret, apart from the others.
func (s *Signer) linkKey() []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("guichet web links v1"))
	return m.Sum(nil)
}

func (s *Signer) linkMAC(payload string) string {
	m := hmac.New(sha256.New, s.linkKey())
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LinkToken signs l: "<action>.<number>.<solution>.<outbox>.<expiry>.<HMAC-SHA256>", URL-safe.
func (s *Signer) LinkToken(l Link) string {
	payload := strings.Join([]string{l.Action, strconv.FormatInt(l.Number, 10), strconv.FormatInt(l.Solution, 10),
		strconv.FormatInt(l.Outbox, 10), strconv.FormatInt(l.Expires.Unix(), 10)}, ".")
	return payload + "." + s.linkMAC(payload)
}

// ParseLink checks a token's signature and expiry at now and returns what it grants.
func (s *Signer) ParseLink(token string, now time.Time) (Link, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 200 {
		return Link{}, ErrLinkInvalid
	}
	payload, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(s.linkMAC(payload)), []byte(mac)) {
		return Link{}, ErrLinkInvalid
	}
	f := strings.Split(payload, ".")
	if len(f) != 5 {
		return Link{}, ErrLinkInvalid
	}
	var n [4]int64
	for k := range n {
		v, err := strconv.ParseInt(f[k+1], 10, 64)
		if err != nil || v < 0 {
			return Link{}, ErrLinkInvalid
		}
		n[k] = v
	}
	l := Link{Action: f[0], Number: n[0], Solution: n[1], Outbox: n[2], Expires: time.Unix(n[3], 0).UTC()}
	switch {
	case l.Action != LinkView && l.Action != LinkApprove && l.Action != LinkRefuse, l.Number < 1, l.Outbox < 1,
		l.Action != LinkView && l.Solution < 1:
		return Link{}, ErrLinkInvalid
	case now.After(l.Expires):
		return l, ErrLinkExpired
	}
	return l, nil
}
