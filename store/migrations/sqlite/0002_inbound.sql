-- guichet schema 2 for SQLite: every received message kept raw, the quarantine, delivery failures, settings.

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- One row per message taken in and stored on a ticket (or kept without one: an auto-reply, a bounce).
CREATE TABLE inbound (
	id         INTEGER PRIMARY KEY,
	received   TEXT NOT NULL,
	source     TEXT NOT NULL DEFAULT '',
	dedup      TEXT NOT NULL UNIQUE, -- "mid:<Message-ID>", or "sha256:<content hash>" without one
	message_id TEXT NOT NULL DEFAULT '',
	raw_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
	size       INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	thread_by  TEXT NOT NULL DEFAULT '',
	notify     INTEGER NOT NULL DEFAULT 1, -- may notifications answer it
	ticket_id  INTEGER REFERENCES tickets (id),
	message    INTEGER REFERENCES messages (id)
);
CREATE INDEX inbound_ticket ON inbound (ticket_id);

CREATE TABLE quarantine (
	id          INTEGER PRIMARY KEY,
	received    TEXT NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	dedup       TEXT NOT NULL UNIQUE,
	reason      TEXT NOT NULL,
	kind        TEXT NOT NULL DEFAULT '',
	message_id  TEXT NOT NULL DEFAULT '',
	sender      TEXT NOT NULL DEFAULT '',
	subject     TEXT NOT NULL DEFAULT '',
	raw_sha256  TEXT NOT NULL REFERENCES blobs (sha256),
	size        INTEGER NOT NULL,
	released    TEXT,                     -- when a retry stored it
	released_to TEXT NOT NULL DEFAULT ''  -- what the retry did with it
);

CREATE TABLE delivery_failures (
	id         INTEGER PRIMARY KEY,
	time       TEXT NOT NULL,
	address    TEXT NOT NULL,
	status     TEXT NOT NULL DEFAULT '',
	permanent  INTEGER NOT NULL,
	diagnostic TEXT NOT NULL DEFAULT '',
	ticket_id  INTEGER REFERENCES tickets (id),
	inbound_id INTEGER REFERENCES inbound (id)
);
CREATE INDEX delivery_failures_address ON delivery_failures (address);
CREATE INDEX tickets_requester_created ON tickets (requester_address, created);
