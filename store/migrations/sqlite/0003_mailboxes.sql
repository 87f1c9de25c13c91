-- guichet schema 3 for SQLite: where each IMAP mailbox stands.

CREATE TABLE mailboxes (
	name            TEXT PRIMARY KEY, -- the mailbox's name, "/sent" appended for its Sent folder
	uid_validity    INTEGER NOT NULL DEFAULT 0,
	last_uid        INTEGER NOT NULL DEFAULT 0,
	state           TEXT NOT NULL DEFAULT '',
	last_error      TEXT NOT NULL DEFAULT '',
	last_error_at   TEXT,
	last_success_at TEXT,
	processed       INTEGER NOT NULL DEFAULT 0,
	updated         TEXT NOT NULL
);
