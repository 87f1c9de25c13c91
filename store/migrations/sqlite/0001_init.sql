-- guichet schema 1 for SQLite. Times are TEXT in UTC, fixed width (2006-01-02T15:04:05.000000Z), so they sort.

CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	next INTEGER NOT NULL
);
INSERT INTO counters (name, next) VALUES ('ticket', 1);

CREATE TABLE agents (
	address TEXT PRIMARY KEY,
	name    TEXT NOT NULL DEFAULT '',
	created TEXT NOT NULL
);

CREATE TABLE tickets (
	id                INTEGER PRIMARY KEY,
	number            INTEGER NOT NULL UNIQUE CHECK (number > 0),
	subject           TEXT NOT NULL,
	requester_address TEXT NOT NULL,
	requester_name    TEXT NOT NULL DEFAULT '',
	requester_lang    TEXT NOT NULL DEFAULT 'en',
	type              TEXT NOT NULL,
	priority          TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
	status            TEXT NOT NULL CHECK (status IN ('new', 'assigned', 'planned', 'pending', 'solved', 'closed')),
	assignee          TEXT NOT NULL DEFAULT '',
	grp               TEXT NOT NULL DEFAULT '',
	support_address   TEXT NOT NULL DEFAULT '',
	channel           TEXT NOT NULL CHECK (channel IN ('email', 'web', 'cli')),
	linked_to         INTEGER REFERENCES tickets (number),
	created           TEXT NOT NULL,
	updated           TEXT NOT NULL,
	status_since      TEXT NOT NULL,
	first_response    TEXT,
	solved            TEXT,
	closed            TEXT
);
CREATE INDEX tickets_status ON tickets (status, updated);
CREATE INDEX tickets_requester ON tickets (requester_address);

CREATE TABLE participants (
	ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	address   TEXT NOT NULL,
	name      TEXT NOT NULL DEFAULT '',
	lang      TEXT NOT NULL DEFAULT 'en',
	PRIMARY KEY (ticket_id, address)
);

CREATE TABLE messages (
	id             INTEGER PRIMARY KEY,
	ticket_id      INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	time           TEXT NOT NULL,
	author_role    TEXT NOT NULL,
	author_address TEXT NOT NULL DEFAULT '',
	author_name    TEXT NOT NULL DEFAULT '',
	visibility     TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
	text           TEXT NOT NULL,
	html           TEXT NOT NULL DEFAULT '',
	message_id     TEXT UNIQUE -- NULL when the message did not come by mail
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE blobs (
	sha256 TEXT PRIMARY KEY,
	size   INTEGER NOT NULL,
	data   BLOB NOT NULL
);

CREATE TABLE attachments (
	id           INTEGER PRIMARY KEY,
	message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	filename     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL REFERENCES blobs (sha256)
);
CREATE INDEX attachments_message ON attachments (message_id, id);

CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	ticket_id  INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	time       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	from_value TEXT NOT NULL DEFAULT '',
	to_value   TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_ticket ON events (ticket_id, id);
