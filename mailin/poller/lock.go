package poller

import "context"

// Locker gives one poller at a time a mailbox folder, across processes (a PostgreSQL advisory
// lock or a lease row). Acquire returns the lock and true when this process now holds the key,
// false when another one does (the poller tries again after Options.LockRetry). The poller
// holds the lock for as long as it is connected, and releases it before reconnecting; when
// the lock's Lost channel closes, it ends the session at once (its IMAP commands in flight
// are abandoned, nothing is moved that is not stored), releases and acquires again.
//
// Two pollers that both believe they hold a mailbox (in the moments before a holder notices
// its lock is lost) cannot store a message twice, thanks to the Deliverer's duplicate
// detection; the lock is what keeps them from doing the same work twice.
type Locker interface {
	Acquire(ctx context.Context, key string) (l Lock, ok bool, err error)
}

// Lock is a held key of a Locker.
type Lock struct {
	Lost    <-chan struct{} // closed when the lock is found gone while held; nil: never
	Release func()          // gives it back; may be called more than once; nil: nothing to do
}
