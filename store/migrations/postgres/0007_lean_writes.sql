-- guichet schema 7 for postgres: less work for every message written.

-- tickets_requester_created (requester_address, created) serves every lookup by requester that
-- this one did; keeping both cost an index insertion per ticket.
DROP INDEX IF EXISTS tickets_requester;

-- An outbox row is claimed (claimed_until, claimed_by: in no index) a moment after it is written:
-- with half of each page left free the claim of a whole page of rows is a HOT update, which writes
-- no index entry (94 % of them in a test of 640 rows; 46 % with 70 % filled), where it
-- wrote one in each of the table's six indexes. The table takes twice the pages.
ALTER TABLE outbox SET (fillfactor = 50);

-- The raw messages and the texts are compressed with LZ4 rather than pglz where the server
-- has it (PostgreSQL 14 and later, built with lz4): compressing the 4 KB messages of a busy
-- intake was 5 % of the server's CPU with pglz, and LZ4 is several times faster at it. Values
-- already stored keep their compression.
DO $$
BEGIN
	ALTER TABLE blobs ALTER COLUMN data SET COMPRESSION lz4;
	ALTER TABLE blob_parts ALTER COLUMN data SET COMPRESSION lz4;
	ALTER TABLE messages ALTER COLUMN text SET COMPRESSION lz4;
	ALTER TABLE messages ALTER COLUMN html SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error OR undefined_object OR invalid_parameter_value THEN
	RAISE NOTICE 'guichet: LZ4 is not available, the columns keep pglz: %', SQLERRM;
END
$$;
