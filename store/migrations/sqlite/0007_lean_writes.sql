-- guichet schema 7 for sqlite: less work for every message written.

-- tickets_requester_created (requester_address, created) serves every lookup by requester that
-- this one did; keeping both cost an index insertion per ticket.
DROP INDEX IF EXISTS tickets_requester;
