// Package config loads guichet's settings: an optional TOML file for what is structured,
// then GUICHET_* environment variables, which override the file. The result is one typed,
// validated struct passed down from main; nothing reads the environment elsewhere.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/robfig/cron/v3"

	"guichet/ticket"
)

// Config is every setting of guichet.
type Config struct {
	DB                string   `toml:"db"`                  // GUICHET_DB
	HTTPAddr          string   `toml:"http_addr"`           // GUICHET_HTTP_ADDR
	ReopenWithin      Duration `toml:"reopen_within"`       // GUICHET_REOPEN_WITHIN
	AutoCloseAfter    Duration `toml:"autoclose_after"`     // GUICHET_AUTOCLOSE_AFTER
	PendingCloseAfter Duration `toml:"pending_close_after"` // GUICHET_PENDING_CLOSE_AFTER
	ThanksKeepsSolved bool     `toml:"thanks_keeps_solved"` // GUICHET_THANKS_KEEPS_SOLVED
	TicketStart       int64    `toml:"ticket_start"`        // GUICHET_TICKET_START
	TagPrefix         string   `toml:"tag_prefix"`          // GUICHET_TAG_PREFIX
	DefaultType       string   `toml:"default_type"`        // GUICHET_DEFAULT_TYPE
	LogLevel          string   `toml:"log_level"`           // GUICHET_LOG_LEVEL
	Types             []Type   `toml:"types"`               // file only

	SupportAddresses []string `toml:"support_addresses"`    // GUICHET_SUPPORT_ADDRESSES, comma-separated
	NoreplyAddress   string   `toml:"noreply_address"`      // GUICHET_NOREPLY_ADDRESS
	Secret           string   `toml:"secret"`               // GUICHET_SECRET; empty: generated once, kept in the database
	MaxMessageSize   Size     `toml:"max_message_size"`     // GUICHET_MAX_MESSAGE_SIZE
	FloodLimit       int      `toml:"flood_limit"`          // GUICHET_FLOOD_LIMIT: new tickets per sender per hour, 0 = none
	TrustedAuthServ  []string `toml:"trusted_authserv_ids"` // GUICHET_TRUSTED_AUTHSERV_IDS, comma-separated
	Routes           []Route  `toml:"routes"`               // file only

	SMTPAddr      string    `toml:"smtp_addr"`             // GUICHET_SMTP_ADDR; "off" for none
	LMTPAddr      string    `toml:"lmtp_addr"`             // GUICHET_LMTP_ADDR: host:port or unix:/path; "" for none
	TLSCert       string    `toml:"tls_cert"`              // GUICHET_TLS_CERT: PEM file, enables STARTTLS
	TLSKey        string    `toml:"tls_key"`               // GUICHET_TLS_KEY
	SMTPAllow     []string  `toml:"smtp_allow_networks"`   // GUICHET_SMTP_ALLOW_NETWORKS: CIDRs allowed to connect; empty = all
	AcceptDomains []string  `toml:"accept_domains"`        // GUICHET_ACCEPT_DOMAINS: accept any recipient at these domains too
	SMTPTrusted   []string  `toml:"smtp_trusted_networks"` // GUICHET_SMTP_TRUSTED_NETWORKS: no per-client limits (default loopback)
	SMTPRatePerIP int       `toml:"smtp_rate_per_ip"`      // GUICHET_SMTP_RATE_PER_IP: messages a minute from one client, 0 = none
	Mailboxes     []Mailbox `toml:"mailboxes"`             // file only

	Relay        string   `toml:"relay"`              // GUICHET_RELAY: smtp://, smtps:// or maildir:PATH
	BaseURL      string   `toml:"base_url"`           // GUICHET_BASE_URL: where the links in mail point
	NoreplyName  string   `toml:"noreply_name"`       // GUICHET_NOREPLY_NAME: the From display name
	TemplatesDir string   `toml:"templates_dir"`      // GUICHET_TEMPLATES_DIR: files overriding the embedded templates
	DefaultLang  string   `toml:"default_lang"`       // GUICHET_DEFAULT_LANG: en or fr
	NotifyOff    []string `toml:"notify_off"`         // GUICHET_NOTIFY_OFF: notification kinds switched off
	RetryFor     Duration `toml:"notify_retry_for"`   // GUICHET_NOTIFY_RETRY_FOR: how long a notification is retried
	RateLimit    int      `toml:"notify_rate_limit"`  // GUICHET_NOTIFY_RATE_LIMIT: per recipient and per ticket, 0 = none
	RateWindow   Duration `toml:"notify_rate_window"` // GUICHET_NOTIFY_RATE_WINDOW

	RemindAfter      Duration `toml:"remind_after"`          // GUICHET_REMIND_AFTER: pending → reminder
	EscalateAfter    Duration `toml:"escalate_after"`        // GUICHET_ESCALATE_AFTER: new and unassigned → agents told
	BusinessHours    string   `toml:"business_hours"`        // GUICHET_BUSINESS_HOURS: "Europe/Paris mon-fri 09:00-18:00"
	RetainRaw        Duration `toml:"retain_raw"`            // GUICHET_RETAIN_RAW
	RetainOutbox     Duration `toml:"retain_outbox"`         // GUICHET_RETAIN_OUTBOX
	RetainQuarantine Duration `toml:"retain_quarantine"`     // GUICHET_RETAIN_QUARANTINE
	Housekeeping     string   `toml:"housekeeping_schedule"` // GUICHET_HOUSEKEEPING_SCHEDULE: cron spec, "off"

	File string `toml:"-"` // the file the settings came from, "" when none
}

// Type is one entry of the [[types]] list.
type Type struct {
	Code string `toml:"code"`
	EN   string `toml:"en"`
	FR   string `toml:"fr"`
}

// Route is one [[routes]] entry: what a support address decides for its tickets.
type Route struct {
	Address  string `toml:"address"`
	Type     string `toml:"type"`
	Priority string `toml:"priority"`
	Group    string `toml:"group"`
	Lang     string `toml:"lang"`
	// How its notifications are signed: the From address and display name, and its own templates.
	From      string `toml:"from"`
	Name      string `toml:"name"`
	Templates string `toml:"templates_dir"`
	// AutoCloseAfter, when set, overrides autoclose_after for its tickets.
	AutoCloseAfter *Duration `toml:"autoclose_after"`
}

// Mailbox is one [[mailboxes]] entry: an IMAP mailbox to read.
type Mailbox struct {
	Name       string `toml:"name"`
	URL        string `toml:"url"`         // imaps://user:pass@host:993/INBOX, or imap:// with STARTTLS
	Insecure   bool   `toml:"insecure"`    // allow imap:// without STARTTLS (a local server)
	After      string `toml:"after"`       // "move" (default) or "seen"
	MoveTo     string `toml:"move_to"`     // default "guichet/done"
	FailedTo   string `toml:"failed_to"`   // default "guichet/failed"
	SentFolder string `toml:"sent_folder"` // the shared mailbox's Sent folder, to read the team's replies
	Agent      string `toml:"agent"`       // who wrote Sent mail when From names no agent
	Schedule   string `toml:"schedule"`    // polling, default "@every 1m" (IDLE is used too when the server has it)
}

// Default returns the settings used when nothing is configured.
func Default() Config {
	c := Config{
		DB:                "guichet.db",
		HTTPAddr:          "127.0.0.1:8080",
		ReopenWithin:      Duration(14 * 24 * time.Hour),
		AutoCloseAfter:    Duration(7 * 24 * time.Hour),
		ThanksKeepsSolved: true,
		TicketStart:       1,
		TagPrefix:         "#",
		DefaultType:       "question",
		LogLevel:          "info",
		SupportAddresses:  []string{"support@localhost"},
		NoreplyAddress:    "noreply@localhost",
		MaxMessageSize:    25 << 20,
		FloodLimit:        20,
		SMTPAddr:          "127.0.0.1:2525",
		SMTPTrusted:       []string{"127.0.0.0/8", "::1/128"},
		SMTPRatePerIP:     600,
		Relay:             "maildir:./outbox",
		BaseURL:           "http://127.0.0.1:8080",
		NoreplyName:       "Support",
		DefaultLang:       "en",
		RetryFor:          Duration(48 * time.Hour),
		RateLimit:         10,
		RateWindow:        Duration(10 * time.Minute),
		RemindAfter:       Duration(3 * 24 * time.Hour),
		EscalateAfter:     Duration(4 * time.Hour),
		RetainRaw:         Duration(180 * 24 * time.Hour),
		RetainOutbox:      Duration(180 * 24 * time.Hour),
		RetainQuarantine:  Duration(90 * 24 * time.Hour),
		Housekeeping:      "@daily",
	}
	for _, t := range ticket.DefaultTypes {
		c.Types = append(c.Types, Type{Code: t.Code, EN: t.Names.EN, FR: t.Names.FR})
	}
	return c
}

// Load reads the file named by GUICHET_CONFIG (an error if it is missing), else ./guichet.toml
// when present, then applies the environment, and validates the result. getenv is os.LookupEnv
// in production.
func Load(getenv func(string) (string, bool)) (Config, error) {
	c := Default()
	path, explicit := getenv("GUICHET_CONFIG")
	if !explicit || path == "" {
		path = "guichet.toml"
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := c.decode(path, data); err != nil {
			return c, err
		}
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func (c *Config) decode(path string, data []byte) error {
	defaults := c.Types
	c.Types = nil // a [[types]] list in the file replaces the defaults, it does not merge into them
	md, err := toml.Decode(string(data), c)
	if len(c.Types) == 0 {
		c.Types = defaults
	}
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("config: %s: unknown setting %s", path, strings.Join(keys, ", "))
	}
	c.File = path
	return nil
}

func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := getenv(name); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	str("GUICHET_DB", &c.DB)
	str("GUICHET_HTTP_ADDR", &c.HTTPAddr)
	str("GUICHET_TAG_PREFIX", &c.TagPrefix)
	str("GUICHET_DEFAULT_TYPE", &c.DefaultType)
	str("GUICHET_LOG_LEVEL", &c.LogLevel)
	for name, dst := range map[string]*Duration{
		"GUICHET_REOPEN_WITHIN":       &c.ReopenWithin,
		"GUICHET_AUTOCLOSE_AFTER":     &c.AutoCloseAfter,
		"GUICHET_PENDING_CLOSE_AFTER": &c.PendingCloseAfter,
		"GUICHET_NOTIFY_RETRY_FOR":    &c.RetryFor,
		"GUICHET_NOTIFY_RATE_WINDOW":  &c.RateWindow,
		"GUICHET_REMIND_AFTER":        &c.RemindAfter,
		"GUICHET_ESCALATE_AFTER":      &c.EscalateAfter,
		"GUICHET_RETAIN_RAW":          &c.RetainRaw,
		"GUICHET_RETAIN_OUTBOX":       &c.RetainOutbox,
		"GUICHET_RETAIN_QUARANTINE":   &c.RetainQuarantine,
	} {
		if v, ok := getenv(name); ok {
			d, err := ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config: %s: %w", name, err)
			}
			*dst = Duration(d)
		}
	}
	if v, ok := getenv("GUICHET_THANKS_KEEPS_SOLVED"); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("config: GUICHET_THANKS_KEEPS_SOLVED: %q is not true or false", v)
		}
		c.ThanksKeepsSolved = b
	}
	str("GUICHET_NOREPLY_ADDRESS", &c.NoreplyAddress)
	str("GUICHET_SECRET", &c.Secret)
	list := func(name string, dst *[]string) {
		if v, ok := getenv(name); ok {
			*dst = nil
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					*dst = append(*dst, a)
				}
			}
		}
	}
	count := func(name string, dst *int) error {
		if v, ok := getenv(name); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return fmt.Errorf("config: %s: %q is not a whole number of 0 or more", name, v)
			}
			*dst = n
		}
		return nil
	}
	list("GUICHET_SUPPORT_ADDRESSES", &c.SupportAddresses)
	list("GUICHET_SMTP_ALLOW_NETWORKS", &c.SMTPAllow)
	list("GUICHET_ACCEPT_DOMAINS", &c.AcceptDomains)
	list("GUICHET_SMTP_TRUSTED_NETWORKS", &c.SMTPTrusted)
	if err := count("GUICHET_SMTP_RATE_PER_IP", &c.SMTPRatePerIP); err != nil {
		return err
	}
	str("GUICHET_BUSINESS_HOURS", &c.BusinessHours)
	str("GUICHET_HOUSEKEEPING_SCHEDULE", &c.Housekeeping)
	str("GUICHET_RELAY", &c.Relay)
	str("GUICHET_BASE_URL", &c.BaseURL)
	str("GUICHET_NOREPLY_NAME", &c.NoreplyName)
	str("GUICHET_TEMPLATES_DIR", &c.TemplatesDir)
	str("GUICHET_DEFAULT_LANG", &c.DefaultLang)
	list("GUICHET_NOTIFY_OFF", &c.NotifyOff)
	if err := count("GUICHET_NOTIFY_RATE_LIMIT", &c.RateLimit); err != nil {
		return err
	}
	str("GUICHET_SMTP_ADDR", &c.SMTPAddr)
	str("GUICHET_LMTP_ADDR", &c.LMTPAddr)
	str("GUICHET_TLS_CERT", &c.TLSCert)
	str("GUICHET_TLS_KEY", &c.TLSKey)
	list("GUICHET_TRUSTED_AUTHSERV_IDS", &c.TrustedAuthServ)
	if v, ok := getenv("GUICHET_MAX_MESSAGE_SIZE"); ok {
		if err := c.MaxMessageSize.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("config: GUICHET_MAX_MESSAGE_SIZE: %w", err)
		}
	}
	if err := count("GUICHET_FLOOD_LIMIT", &c.FloodLimit); err != nil {
		return err
	}
	if v, ok := getenv("GUICHET_TICKET_START"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("config: GUICHET_TICKET_START: %q is not a whole number", v)
		}
		c.TicketStart = n
	}
	return nil
}

// Validate checks the settings together.
func (c Config) Validate() error {
	var errs []string
	if c.DB == "" {
		errs = append(errs, "db (GUICHET_DB) is empty")
	}
	if c.TicketStart < 1 {
		errs = append(errs, fmt.Sprintf("ticket_start (GUICHET_TICKET_START) is %d, want 1 or more", c.TicketStart))
	}
	if c.TagPrefix == "" || strings.ContainsAny(c.TagPrefix, "[] \t0123456789") {
		errs = append(errs, fmt.Sprintf("tag_prefix (GUICHET_TAG_PREFIX) %q must be non-empty, without brackets, spaces or digits", c.TagPrefix))
	}
	for name, d := range map[string]Duration{"reopen_within": c.ReopenWithin, "autoclose_after": c.AutoCloseAfter, "pending_close_after": c.PendingCloseAfter} {
		if d < 0 {
			errs = append(errs, name+" is negative")
		}
	}
	seen := map[string]bool{}
	for _, t := range c.Types {
		if t.Code == "" || strings.ContainsAny(t.Code, " \t") || seen[t.Code] {
			errs = append(errs, fmt.Sprintf("types: code %q is empty, has spaces or is repeated", t.Code))
		}
		seen[t.Code] = true
	}
	if len(c.Types) == 0 {
		errs = append(errs, "types: the list is empty")
	} else if !seen[c.DefaultType] {
		errs = append(errs, fmt.Sprintf("default_type (GUICHET_DEFAULT_TYPE) %q is not in the types list", c.DefaultType))
	}
	if len(c.SupportAddresses) == 0 {
		errs = append(errs, "support_addresses (GUICHET_SUPPORT_ADDRESSES) is empty")
	}
	support := map[string]bool{}
	for _, a := range c.SupportAddresses {
		if !ticket.ValidAddress(ticket.NormalizeAddress(a)) || strings.Contains(a, "+") {
			errs = append(errs, fmt.Sprintf("support address %q is not an address without a +tag", a))
		}
		support[ticket.NormalizeAddress(a)] = true
	}
	if !ticket.ValidAddress(ticket.NormalizeAddress(c.NoreplyAddress)) || strings.Contains(c.NoreplyAddress, "+") {
		errs = append(errs, fmt.Sprintf("noreply_address (GUICHET_NOREPLY_ADDRESS) %q is not an address without a +tag", c.NoreplyAddress))
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		errs = append(errs, "secret (GUICHET_SECRET) must be at least 16 characters")
	}
	if c.MaxMessageSize < 1024 {
		errs = append(errs, "max_message_size (GUICHET_MAX_MESSAGE_SIZE) is below 1KB")
	}
	if c.FloodLimit < 0 {
		errs = append(errs, "flood_limit is negative")
	}
	for _, r := range c.Routes {
		where := fmt.Sprintf("routes: %q", r.Address)
		if !support[ticket.NormalizeAddress(r.Address)] {
			errs = append(errs, where+" is not one of the support addresses")
		}
		if r.Type != "" && !seen[r.Type] {
			errs = append(errs, fmt.Sprintf("%s: type %q is not in the types list", where, r.Type))
		}
		if r.Priority != "" {
			if _, err := ticket.ParsePriority(r.Priority); err != nil {
				errs = append(errs, where+": "+err.Error())
			}
		}
		if r.Lang != "" && r.Lang != "en" && r.Lang != "fr" {
			errs = append(errs, fmt.Sprintf("%s: lang %q: want en or fr", where, r.Lang))
		}
		if r.AutoCloseAfter != nil && *r.AutoCloseAfter < 0 {
			errs = append(errs, where+": autoclose_after is negative")
		}
		if r.From != "" && (!ticket.ValidAddress(ticket.NormalizeAddress(r.From)) || strings.Contains(r.From, "+")) {
			errs = append(errs, fmt.Sprintf("%s: from %q is not an address without a +tag", where, r.From))
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("base_url (GUICHET_BASE_URL) %q is not an http:// or https:// URL", c.BaseURL))
	}
	if c.DefaultLang != "en" && c.DefaultLang != "fr" {
		errs = append(errs, fmt.Sprintf("default_lang (GUICHET_DEFAULT_LANG) %q: want en or fr", c.DefaultLang))
	}
	if c.Relay == "" {
		errs = append(errs, "relay (GUICHET_RELAY) is empty; the default is maildir:./outbox")
	}
	if _, err := ticket.ParseCalendar(c.BusinessHours); err != nil {
		errs = append(errs, "business_hours (GUICHET_BUSINESS_HOURS): "+err.Error())
	}
	for name, d := range map[string]Duration{"remind_after": c.RemindAfter, "escalate_after": c.EscalateAfter,
		"retain_raw": c.RetainRaw, "retain_outbox": c.RetainOutbox, "retain_quarantine": c.RetainQuarantine} {
		if d < 0 {
			errs = append(errs, name+" is negative")
		}
	}
	if h := c.Housekeeping; h != "" && h != "off" {
		if _, err := cron.ParseStandard(h); err != nil {
			errs = append(errs, fmt.Sprintf("housekeeping_schedule (GUICHET_HOUSEKEEPING_SCHEDULE) %q: %v", h, err))
		}
	}
	if c.RateLimit < 0 || c.RetryFor < 0 || c.RateWindow < 0 {
		errs = append(errs, "notify_rate_limit, notify_retry_for and notify_rate_window cannot be negative")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, "tls_cert and tls_key (GUICHET_TLS_CERT, GUICHET_TLS_KEY) go together")
	}
	for _, n := range append(append([]string(nil), c.SMTPAllow...), c.SMTPTrusted...) {
		if _, err := netip.ParsePrefix(n); err != nil {
			errs = append(errs, fmt.Sprintf("smtp networks: %q is not a network like 192.0.2.0/24", n))
		}
	}
	names := map[string]bool{}
	for _, m := range c.Mailboxes {
		where := fmt.Sprintf("mailboxes: %q", m.Name)
		if m.Name == "" || strings.ContainsAny(m.Name, "/ ") || names[m.Name] {
			errs = append(errs, where+": a name without / or spaces, unique, is required")
		}
		names[m.Name] = true
		if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "imap" && u.Scheme != "imaps") || u.Host == "" {
			errs = append(errs, where+": url must be imaps://user:password@host:993/INBOX or imap://…")
		}
		if m.After != "" && m.After != "move" && m.After != "seen" {
			errs = append(errs, fmt.Sprintf("%s: after %q: want move or seen", where, m.After))
		}
		if m.Agent != "" && !ticket.ValidAddress(ticket.NormalizeAddress(m.Agent)) {
			errs = append(errs, fmt.Sprintf("%s: agent %q is not an address", where, m.Agent))
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("log_level (GUICHET_LOG_LEVEL) %q: want debug, info, warn or error", c.LogLevel))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// TimerPolicy builds the timed rules' delays.
func (c Config) TimerPolicy() ticket.TimerPolicy {
	cal, _ := ticket.ParseCalendar(c.BusinessHours) // validated with the configuration
	p := ticket.TimerPolicy{AutoCloseAfter: time.Duration(c.AutoCloseAfter), PendingCloseAfter: time.Duration(c.PendingCloseAfter),
		RemindAfter: time.Duration(c.RemindAfter), EscalateAfter: time.Duration(c.EscalateAfter), Calendar: cal,
		AutoCloseByRoute: map[string]time.Duration{}}
	for _, r := range c.Routes {
		if r.AutoCloseAfter != nil {
			p.AutoCloseByRoute[ticket.NormalizeAddress(r.Address)] = time.Duration(*r.AutoCloseAfter)
		}
	}
	return p
}

// Policy is the lifecycle policy the settings describe.
func (c Config) Policy() ticket.Policy {
	p := ticket.Policy{
		AutoCloseAfter:    time.Duration(c.AutoCloseAfter),
		PendingCloseAfter: time.Duration(c.PendingCloseAfter),
		ReopenWithin:      time.Duration(c.ReopenWithin),
		ThanksKeepsSolved: c.ThanksKeepsSolved,
		DefaultType:       c.DefaultType,
	}
	for _, t := range c.Types {
		fr := t.FR
		if fr == "" {
			fr = t.EN
		}
		en := t.EN
		if en == "" {
			en = t.Code
		}
		p.Types = append(p.Types, ticket.TypeDef{Code: t.Code, Names: ticket.Names{EN: en, FR: fr}})
	}
	return p
}

// Duration is a time.Duration that reads days too: "7d", "36h", "1d12h", "90s"; "0" or "off" is zero.
type Duration time.Duration

// UnmarshalText reads a duration from the TOML file.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// MarshalText writes the duration back, in days when it is a whole number of them.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string {
	v := time.Duration(d)
	day := 24 * time.Hour
	switch {
	case v == 0:
		return "0"
	case v%day == 0:
		return fmt.Sprintf("%dd", v/day)
	}
	return v.String()
}

// ParseDuration reads "7d", "36h", "1d12h", "90s", "0" or "off".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "off") {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || n > 36500 {
			return 0, fmt.Errorf("duration %q: want a form like 7d, 36h, 1d12h or 90s", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || days+d < days {
		return 0, fmt.Errorf("duration %q: want a form like 7d, 36h, 1d12h or 90s", s)
	}
	return days + d, nil
}

// Size is a number of bytes that reads "25MB", "512KB", "10M" or a plain number.
type Size int64

// UnmarshalText reads a size.
func (z *Size) UnmarshalText(b []byte) error {
	s := strings.ToUpper(strings.TrimSpace(string(b)))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("size %q: want a form like 25MB, 512KB or 1048576", string(b))
	}
	*z = Size(n * mult)
	return nil
}
