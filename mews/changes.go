package mews

import "context"

// ChangeFeed is the optional capability of an engine whose data several
// processes share (PostgreSQL): it tells the other processes that this one
// changed something, and hears when they did, so that a live view (the
// console) of any replica follows the writes of all. An engine without it
// (SQLite, one process) needs no more than the in-process signal.
type ChangeFeed interface {
	// NotifyChanged tells every process listening on the data, this one
	// included, that something was written and committed.
	NotifyChanged(ctx context.Context) error
	// ListenChanges calls changed on every notification, and once each
	// time it (re)connects, since notifications may have been missed
	// meanwhile. It returns when ctx is done, or with the error that keeps
	// it from listening; the caller decides whether to try again.
	ListenChanges(ctx context.Context, changed func()) error
}
