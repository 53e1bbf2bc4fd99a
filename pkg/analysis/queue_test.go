package analysis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestQueueOneAtATimeInOrderWithPositions(t *testing.T) {
	var mu sync.Mutex
	var lines [][]string
	q := NewQueue(func(model string, ids []string) {
		mu.Lock()
		lines = append(lines, append([]string{model}, ids...))
		mu.Unlock()
	})
	release := make(chan struct{})
	started := make(chan string, 3)
	var ran []string
	var wg sync.WaitGroup
	positions := map[string][]int{}
	run := func(id string) {
		defer wg.Done()
		err := q.Do(context.Background(), "phi3:mini", id, func(n int) {
			mu.Lock()
			positions[id] = append(positions[id], n)
			mu.Unlock()
		}, func(context.Context) error {
			started <- id
			<-release
			mu.Lock()
			ran = append(ran, id)
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	wg.Add(1)
	go run("a")
	if got := <-started; got != "a" {
		t.Fatal(got)
	}
	wg.Add(1)
	go run("b")
	waitFor(t, func() bool { return q.Len("phi3:mini") == 2 })
	wg.Add(1)
	go run("c")
	waitFor(t, func() bool { return q.Len("phi3:mini") == 3 })
	if pos, ok := q.Position("phi3:mini", "c"); !ok || pos != 2 {
		t.Fatalf("c at %d %v", pos, ok)
	}
	// Another model has its own line.
	if err := q.Do(context.Background(), "llama3.2", "x", nil, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := q.Do(context.Background(), "phi3:mini", "b", nil, nil); err == nil {
		t.Error("b queued twice")
	}
	for i := 0; i < 3; i++ {
		release <- struct{}{}
		if i < 2 {
			<-started
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 3 || ran[0] != "a" || ran[1] != "b" || ran[2] != "c" {
		t.Errorf("ran %v", ran)
	}
	if p := positions["c"]; len(p) != 3 || p[0] != 2 || p[1] != 1 || p[2] != 0 {
		t.Errorf("c's positions %v", p)
	}
	if q.Len("phi3:mini") != 0 || len(lines) == 0 || len(lines[len(lines)-1]) != 1 {
		t.Errorf("lines %v", lines)
	}
}

func TestQueueCancelWhileWaiting(t *testing.T) {
	q := NewQueue(nil)
	release := make(chan struct{})
	go func() {
		_ = q.Do(context.Background(), "m", "a", nil, func(context.Context) error { <-release; return nil })
	}()
	waitFor(t, func() bool { return q.Len("m") == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- q.Do(ctx, "m", "b", nil, func(context.Context) error {
			t.Error("b ran after its cancel")
			return nil
		})
	}()
	waitFor(t, func() bool { return q.Len("m") == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, ok := q.Position("m", "b"); ok || q.Len("m") != 1 {
		t.Error("b still in line")
	}
	close(release)
	waitFor(t, func() bool { return q.Len("m") == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
