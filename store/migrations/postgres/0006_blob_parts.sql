-- guichet schema 6 for postgres: large blobs in parts.

-- A blob larger than one part keeps its first part in blobs.data and the rest here, in order:
-- a 25 MB attachment is then written, and sent, 256 KiB at a time, not as one 25 MB value.
CREATE TABLE blob_parts (
	sha256 TEXT NOT NULL REFERENCES blobs (sha256) ON DELETE CASCADE,
	seq    INTEGER NOT NULL, -- 1, 2, …: the parts after the one in blobs.data
	data   BYTEA NOT NULL,
	PRIMARY KEY (sha256, seq)
);
