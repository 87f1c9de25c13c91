-- guichet schema 4 for SQLite: the transactional outbox of notifications, used action links,
-- and clearing a bounced address.

-- One row per notification, written in the transaction of the change that causes it.
CREATE TABLE outbox (
	id             INTEGER PRIMARY KEY,
	created        TEXT NOT NULL,
	ticket_id      INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
	kind           TEXT NOT NULL,              -- created, reply, status, solved … agent_new … (templates.Kinds)
	recipient      TEXT NOT NULL,
	recipient_name TEXT NOT NULL DEFAULT '',
	role           TEXT NOT NULL,              -- requester, participant, agent
	lang           TEXT NOT NULL DEFAULT 'en',
	message        INTEGER REFERENCES messages (id) ON DELETE SET NULL, -- the message it carries
	data           TEXT NOT NULL DEFAULT '{}', -- what the templates need besides: statuses, reason, solution …
	message_id     TEXT NOT NULL UNIQUE,       -- its Message-ID, the same on every try
	staff          INTEGER NOT NULL DEFAULT 0, -- a staff reply: never held back by the rate limit
	state          TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sent', 'failed', 'merged', 'suppressed')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	retry_from     TEXT NOT NULL,                -- retries stop this long after it (created, or a manual retry)
	next_attempt   TEXT NOT NULL,
	held           INTEGER NOT NULL DEFAULT 0, -- delayed by the rate limit: merged with the others when it goes
	claimed_until  TEXT,                       -- a sender holds it until then
	claimed_by     TEXT NOT NULL DEFAULT '',
	last_error     TEXT NOT NULL DEFAULT '',
	sent           TEXT,
	merged_into    INTEGER REFERENCES outbox (id)
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
CREATE INDEX outbox_recipient_sent ON outbox (recipient, sent);
CREATE INDEX outbox_ticket ON outbox (ticket_id, id);

-- Action links (approve, refuse) are single use.
CREATE TABLE used_tokens (
	hash TEXT PRIMARY KEY,
	used TEXT NOT NULL
);

-- An agent clears a bounced address so that it gets mail again.
ALTER TABLE delivery_failures ADD COLUMN cleared TEXT;
CREATE INDEX delivery_failures_blocking ON delivery_failures (address) WHERE permanent = 1 AND cleared IS NULL;
