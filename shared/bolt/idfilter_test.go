package bolt

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
)

func newTestFilter() *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	fs := []*bloom{newBloom(1000)}
	f.filters.Store(&fs)
	return f
}

// No false "no", across growth and with concurrent lookups; few false
// "maybe".
func TestIDFilter(t *testing.T) {
	f := newTestFilter()
	const n = 20000 // 20 times the first filter's capacity: it grows
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			f.add(fmt.Appendf(nil, "in-%d", i))
		}
	})
	wg.Go(func() { // reads race with the adds (run with -race)
		for i := range n {
			f.mayContain(fmt.Appendf(nil, "in-%d", i))
		}
	})
	wg.Wait()
	for i := range n {
		if !f.mayContain(fmt.Appendf(nil, "in-%d", i)) {
			t.Fatalf("in-%d added but reported absent", i)
		}
	}
	var fp int
	for i := range n {
		if f.mayContain(fmt.Appendf(nil, "out-%d", i)) {
			fp++
		}
	}
	got, want := float64(fp)/n, 0.05 // ~1 % a filter, 5 filters
	t.Logf("%d filters, false positives %.2f %%", len(*f.filters.Load()), 100*got)
	if got > want {
		t.Errorf("false positive rate %.3f, want under %.2f", got, want)
	}
}

// Entries in the store before Open are in the filter built at Open.
func TestIDFilterAtOpen(t *testing.T) {
	ctx := t.Context()
	path := t.TempDir() + "/webhooks.db"
	db, err := Open(path, Options{})
	must(t, err)
	l, err := db.Acquire(ctx, "before", 1, 60e9)
	must(t, err)
	must(t, db.Finish(ctx, l))
	must(t, db.Close()) // applies the journal: the key is in the B+tree
	db = openAt(t, path, Options{})
	if !db.ids.mayContain(keyID("before")) {
		t.Fatal("a key stored before Open is not in the filter")
	}
	if _, err := db.Acquire(ctx, "before", 2, 60e9); err == nil {
		t.Error("Acquire of a key finished before Open succeeded")
	}
}
