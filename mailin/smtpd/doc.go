// Package smtpd receives mail for guichet over SMTP (RFC 5321) and LMTP (RFC 2033) and hands
// every message to a Deliverer.
//
// The rule it is built around: a message is acknowledged with 250 only once Deliver has
// returned nil, that is once it is durably stored. Any failure to store it is answered 451 so
// that the sending MTA keeps the message and retries; a message the deliverer refuses outright
// (an error wrapping ErrRejected) is answered 554. Over LMTP, Deliver is called once per
// message with every accepted recipient and each recipient gets the same reply.
//
// What the receiver enforces before a message reaches the deliverer:
//
//   - recipients: only those Options.AcceptRecipient accepts (550 5.1.1 otherwise), so the
//     receiver is never an open relay and never produces backscatter; at most MaxRecipients;
//   - size: the limit is announced with the SIZE extension (RFC 1870), a MAIL FROM whose
//     SIZE= exceeds it is refused, and a message that turns out larger is read off the wire,
//     thrown away and refused with 552 5.3.4; memory per message is bounded by the limit;
//   - clients: optional allowed networks, connection limits (in total and per address) and
//     a per-address message rate (451 4.7.1 at MAIL FROM);
//   - time: every read and write has a deadline, and Deliver gets DataTimeout;
//   - STARTTLS (RFC 3207) when a TLS configuration is given.
//
// Shutdown stops listening, lets transactions already in DATA finish (their Deliver completes
// and they get their reply), closes idle sessions with 421, and closes whatever remains when
// its context ends.
//
// The protocol itself is github.com/emersion/go-smtp; this package supplies its backend and
// wraps its listeners and connections.
package smtpd
