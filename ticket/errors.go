package ticket

import "errors"

// Sentinel errors; the lifecycle wraps them with what was attempted.
var (
	ErrInvalidTransition = errors.New("invalid transition")
	ErrReasonRequired    = errors.New("a reason is required")
	ErrNotAllowed        = errors.New("not allowed")
	ErrReopenExpired     = errors.New("reopen window has passed")
	ErrNotDue            = errors.New("not due")
	ErrAssigneeRequired  = errors.New("an assignee is required")
	ErrEmptyText         = errors.New("the text is empty")
	ErrUnknownStatus     = errors.New("unknown status")
	ErrUnknownPriority   = errors.New("unknown priority")
	ErrUnknownType       = errors.New("unknown type")
	ErrInvalid           = errors.New("invalid ticket")
	// ErrNotFound is what a store returns for a ticket (or agent, entry) that does not exist,
	// so that its consumers can tell it without importing the store.
	ErrNotFound = errors.New("not found")
)
