// Package ticket is guichet's domain: tickets, their messages and events, and the lifecycle
// of the seed documents as a pure function. It does no I/O and imports only the standard
// library; time is always a parameter.
//
// # Statuses
//
// new (New / Nouveau), assigned (Processing (assigned) / En cours (attribué)),
// planned (Processing (planned) / En cours (planifié)), pending (Pending / En attente),
// solved (Solved / Résolu), closed (Closed / Clos).
//
// # The lifecycle
//
// [Apply] takes a ticket, an [Action], the [Actor] doing it and the time, and returns the
// [Change] (the new ticket, its events, the message it adds) or an error wrapping one of
// [ErrNotAllowed], [ErrInvalidTransition], [ErrReasonRequired], [ErrReopenExpired], [ErrNotDue].
// Every change comes with its events.
//
// The table below is every rule: one row per action and actor, one column per status the
// ticket is in before, each cell the status it is in after, or the error. The ticket is
// assigned to an agent in every status but new, unless the row says nobody is; "30 days
// after" means the ticket entered its status 30 days ago (the reopen window is 14 days, the
// automatic closing of solved tickets 7 days, of pending tickets off by default and 3 days in
// this table); "new ticket" means the message opens a new ticket linked to the closed one.
// Any action by an actor not listed for it is not allowed, in every status; a stranger
// may do nothing. The tests run every cell, listed or not.
//
//	action                              actor        new       assigned  planned   pending   solved           closed
//	assign to an agent                  agent        assigned  assigned  assigned  assigned  invalid          invalid
//	plan                                agent        planned   planned   invalid   planned   invalid          invalid
//	put in pending                      agent        pending   pending   pending   invalid   invalid          invalid
//	public reply                        agent        new       assigned  planned   assigned  solved           closed
//	internal note                       agent        new       assigned  planned   pending   solved           closed
//	internal note                       system       new       assigned  planned   pending   solved           closed
//	message                             requester    new       assigned  planned   assigned  assigned         assigned
//	message, nobody assigned            requester    new       assigned  planned   new       new              new
//	message that only thanks            requester    new       assigned  planned   assigned  solved           closed
//	message, 30 days after              requester    new       assigned  planned   assigned  assigned         new ticket
//	message                             participant  new       assigned  planned   assigned  assigned         assigned
//	solve                               agent        solved    solved    solved    solved    invalid          invalid
//	approve                             requester    invalid   invalid   invalid   invalid   closed           invalid
//	refuse with a reason                requester    invalid   invalid   invalid   invalid   assigned         invalid
//	refuse without a reason             requester    invalid   invalid   invalid   invalid   reason required  invalid
//	reopen                              agent        invalid   invalid   invalid   invalid   assigned         assigned
//	reopen, nobody assigned             agent        invalid   invalid   invalid   invalid   new              new
//	reopen                              requester    invalid   invalid   invalid   invalid   invalid          assigned
//	reopen, 30 days after               requester    invalid   invalid   invalid   invalid   invalid          expired
//	close                               agent        closed    closed    closed    closed    closed           invalid
//	close                               requester    closed    closed    closed    closed    closed           invalid
//	close automatically, 30 days after  system       invalid   invalid   invalid   closed    closed           invalid
//	close automatically, 1 hour after   system       invalid   invalid   invalid   not due   not due          invalid
//	set priority                        agent        new       assigned  planned   pending   solved           invalid
//	set type                            agent        new       assigned  planned   pending   solved           invalid
//
// A customer's message on a solved ticket refuses the solution, with the message as the
// reason, unless it only thanks ([IsThanksOnly]); a thank-you after closing is kept on the
// closed ticket. Participants (people in copy) write like the requester, but only the
// requester approves, refuses, reopens or closes.
package ticket
