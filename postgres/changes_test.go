package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
)

// A notification sent through one connection pool reaches the listener of
// another (another replica).
func TestChangesReachOtherProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	listener, writer := openClosed(t, dsn), openClosed(t, dsn)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	heard := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- listener.ListenChanges(ctx, func() { heard <- struct{}{} }) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-heard:
		case err := <-done:
			t.Fatalf("%s: the listener stopped: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("%s: nothing heard", what)
		}
	}
	wait("the connection") // reported as a change: notifications may have been missed before

	if err := writer.NotifyChanged(ctx); err != nil {
		t.Fatal(err)
	}
	wait("the writer's notification")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenChanges after cancel: %v", err)
	}
}
