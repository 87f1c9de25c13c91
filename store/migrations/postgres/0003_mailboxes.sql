-- guichet schema 3 for PostgreSQL: where each IMAP mailbox stands.

CREATE TABLE mailboxes (
	name            TEXT PRIMARY KEY, -- the mailbox's name, "/sent" appended for its Sent folder
	uid_validity    BIGINT NOT NULL DEFAULT 0,
	last_uid        BIGINT NOT NULL DEFAULT 0,
	state           TEXT NOT NULL DEFAULT '',
	last_error      TEXT NOT NULL DEFAULT '',
	last_error_at   TIMESTAMPTZ,
	last_success_at TIMESTAMPTZ,
	processed       BIGINT NOT NULL DEFAULT 0,
	updated         TIMESTAMPTZ NOT NULL
);
