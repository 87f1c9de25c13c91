package poller

import "context"

// Locker gives one poller at a time a mailbox folder, across processes (a PostgreSQL advisory
// lock or a lease row). Acquire returns a release function and true when this process now holds
// the key, false when another one does (the poller tries again after Options.LockRetry). The
// poller holds the lock for as long as it is connected, and releases it before reconnecting.
//
// Two pollers that both believe they hold a mailbox (a lease that expired unnoticed) cannot
// store a message twice, thanks to the Deliverer's duplicate detection; the lock is what keeps
// them from doing the same work twice.
type Locker interface {
	Acquire(ctx context.Context, key string) (release func(), ok bool, err error)
}
