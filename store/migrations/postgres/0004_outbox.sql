-- guichet schema 4 for PostgreSQL: the transactional outbox of notifications, used action links,
-- and clearing a bounced address.

-- One row per notification, written in the transaction of the change that causes it.
CREATE TABLE outbox (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	created        TIMESTAMPTZ NOT NULL,
	ticket_id      BIGINT REFERENCES tickets (id) ON DELETE CASCADE,
	kind           TEXT NOT NULL,              -- created, reply, status, solved … agent_new … (templates.Kinds)
	recipient      TEXT NOT NULL,
	recipient_name TEXT NOT NULL DEFAULT '',
	role           TEXT NOT NULL,              -- requester, participant, agent
	lang           TEXT NOT NULL DEFAULT 'en',
	message        BIGINT REFERENCES messages (id) ON DELETE SET NULL, -- the message it carries
	data           TEXT NOT NULL DEFAULT '{}', -- what the templates need besides: statuses, reason, solution …
	message_id     TEXT NOT NULL UNIQUE,       -- its Message-ID, the same on every try
	staff          BOOLEAN NOT NULL DEFAULT FALSE, -- a staff reply: never held back by the rate limit
	state          TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sent', 'failed', 'merged', 'suppressed')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	retry_from     TIMESTAMPTZ NOT NULL,                -- retries stop this long after it (created, or a manual retry)
	next_attempt   TIMESTAMPTZ NOT NULL,
	held           BOOLEAN NOT NULL DEFAULT FALSE, -- delayed by the rate limit: merged with the others when it goes
	claimed_until  TIMESTAMPTZ,                -- a sender holds it until then
	claimed_by     TEXT NOT NULL DEFAULT '',
	last_error     TEXT NOT NULL DEFAULT '',
	sent           TIMESTAMPTZ,
	merged_into    BIGINT REFERENCES outbox (id)
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE state = 'pending';
CREATE INDEX outbox_recipient_sent ON outbox (recipient, sent);
CREATE INDEX outbox_ticket ON outbox (ticket_id, id);

-- Action links (approve, refuse) are single use.
CREATE TABLE used_tokens (
	hash TEXT PRIMARY KEY,
	used TIMESTAMPTZ NOT NULL
);

-- An agent clears a bounced address so that it gets mail again.
ALTER TABLE delivery_failures ADD COLUMN cleared TIMESTAMPTZ;
CREATE INDEX delivery_failures_blocking ON delivery_failures (address) WHERE permanent AND cleared IS NULL;
