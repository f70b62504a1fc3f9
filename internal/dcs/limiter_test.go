package dcs

import (
	"context"
	"runtime"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestBackgroundRequestsGiveWayToForegroundOnes(t *testing.T) {
	// One token every 200 ms and no burst beyond it: the second foreground
	// request waits, and a background request that arrives meanwhile must
	// not go first.
	l := NewLimiter(5, 1)
	ctx := context.Background()
	if err := l.Wait(ctx, "e", "p"); err != nil {
		t.Fatal(err)
	}
	order := make(chan Priority, 2)
	fgQueued := make(chan struct{})
	go func() {
		b := l.budget("e", "p")
		b.enter(Foreground) // as Wait does, so the test knows it queued
		close(fgQueued)
		err := b.all.Wait(ctx)
		b.admitted[Foreground].Add(1)
		b.leave(Foreground)
		if err == nil {
			order <- Foreground
		}
	}()
	<-fgQueued
	go func() {
		if err := l.Wait(WithPriority(ctx, Background), "e", "p"); err == nil {
			order <- Background
		}
	}()
	if first := <-order; first != Foreground {
		t.Fatalf("%s went first, want the foreground request", first)
	}
	if second := <-order; second != Background {
		t.Fatalf("got %s, want the background request after it", second)
	}
	if fg, bg := l.Admitted("e", "p", Foreground), l.Admitted("e", "p", Background); fg != 2 || bg != 1 {
		t.Fatalf("admitted %d foreground, %d background; want 2, 1", fg, bg)
	}
}

func TestStartingWorkGoesBeforePolls(t *testing.T) {
	l := NewLimiter(5, 1)
	ctx := context.Background()
	if err := l.Wait(ctx, "e", "p"); err != nil {
		t.Fatal(err)
	}
	order := make(chan Priority, 2)
	startQueued := make(chan struct{})
	go func() {
		b := l.budget("e", "p")
		b.enter(Start)
		close(startQueued)
		err := b.all.Wait(ctx)
		b.leave(Start)
		if err == nil {
			order <- Start
		}
	}()
	<-startQueued
	go func() {
		if err := l.Wait(ctx, "e", "p"); err == nil {
			order <- Foreground
		}
	}()
	if first := <-order; first != Start {
		t.Fatalf("%s went first, want the create", first)
	}
	<-order
}

func TestAPollThatQueuedFirstDoesNotHoldTheNextTokenAgainstACreate(t *testing.T) {
	// rate.Limiter hands out future tokens in the order they are asked
	// for: a poll that asked first would hold the next token although a
	// create comes along before it is due.
	l := NewLimiter(5, 1)
	ctx := context.Background()
	if err := l.Wait(ctx, "e", "p"); err != nil {
		t.Fatal(err)
	}
	b := l.budget("e", "p")
	order := make(chan Priority, 2)
	go func() {
		if err := l.Wait(ctx, "e", "p"); err == nil {
			order <- Foreground
		}
	}()
	for waiting := 0; waiting == 0; {
		b.mu.Lock()
		waiting = b.waiting[Foreground]
		b.mu.Unlock()
		runtime.Gosched()
	}
	go func() {
		if err := l.Wait(WithPriority(ctx, Start), "e", "p"); err == nil {
			order <- Start
		}
	}()
	if first := <-order; first != Start {
		t.Fatalf("%s went first, want the create", first)
	}
	if second := <-order; second != Foreground {
		t.Fatalf("got %s, want the poll after the create", second)
	}
}

func TestAYieldingPollGivesItsPlaceUpToCreatesThatWait(t *testing.T) {
	l := NewLimiter(4, 1)
	ctx := context.Background()
	// A token is free and nobody waits: the poll goes.
	if err := l.Wait(WithYield(ctx), "e", "p"); err != nil {
		t.Fatalf("a poll with the budget to itself: %v", err)
	}
	// The bucket is empty and a create waits for the next token.
	b := l.budget("e", "p")
	created := make(chan error, 1)
	go func() { created <- l.Wait(WithPriority(ctx, Start), "e", "p") }()
	for waiting := 0; waiting == 0; {
		b.mu.Lock()
		waiting = b.waiting[Start]
		b.mu.Unlock()
		runtime.Gosched()
	}
	err := l.Wait(WithYield(ctx), "e", "p")
	after, ok := Yielded(err)
	if !ok {
		t.Fatalf("the poll returned %v, want a YieldError while a create waits for the empty bucket", err)
	}
	if after < minYield || after > maxYield {
		t.Errorf("the poll is told to come back in %s, want within [%s, %s]", after, minYield, maxYield)
	}
	if c := Classify(&Error{Operation: "list backups", Err: err}); c != ClassCanceled {
		t.Errorf("a yielded call is classified %v, want ClassCanceled (not a failure)", c)
	}
	if err := <-created; err != nil {
		t.Fatalf("the create: %v", err)
	}
	// Without WithYield, the poll waits for its token instead.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := l.Wait(wctx, "e", "p"); err != nil {
		t.Fatalf("a poll without WithYield: %v", err)
	}
}

func TestBackgroundShareOfTheBudget(t *testing.T) {
	l := NewLimiter(10, 20).WithBackgroundShare(0.25)
	b := l.budget("e", "p")
	if got := b.background.Limit(); got != rate.Limit(2.5) {
		t.Errorf("background rate %v, want 2.5/s (25%% of 10/s)", got)
	}
	if got := b.background.Burst(); got != 5 {
		t.Errorf("background burst %d, want 5", got)
	}
	if got := l.BackgroundRate(); got != 2.5 {
		t.Errorf("BackgroundRate %v, want 2.5", got)
	}
	// Without a limit, background requests are not limited either.
	free := NewLimiter(0, 0)
	ctx, cancel := context.WithTimeout(WithPriority(context.Background(), Background), time.Second)
	defer cancel()
	for range 100 {
		if err := free.Wait(ctx, "e", "p"); err != nil {
			t.Fatal(err)
		}
	}
	if PriorityOf(context.Background()) != Foreground || Background.String() != "background" {
		t.Error("requests are foreground unless marked")
	}
}
