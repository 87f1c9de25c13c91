-- guichet schema 5 for postgres: the timers of the timed rules, as state in the database.

-- One row per rule waiting to fire on a ticket; written with the ticket's changes (under its
-- lock), deleted in the transaction that fires it: a rule fires once, whatever restarts.
CREATE TABLE timers (
	ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	kind      TEXT NOT NULL CHECK (kind IN ('autoclose', 'remind', 'escalate')),
	due       TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (ticket_id, kind)
);
CREATE INDEX timers_due ON timers (due);

-- Housekeeping drops raw messages past their retention and then the blobs nothing uses.
CREATE INDEX inbound_received ON inbound (received);
CREATE INDEX inbound_raw ON inbound (raw_sha256);
CREATE INDEX quarantine_raw ON quarantine (raw_sha256);
CREATE INDEX attachments_sha256 ON attachments (sha256);
CREATE INDEX outbox_sent ON outbox (sent) WHERE state = 'sent';
