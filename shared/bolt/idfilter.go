package bolt

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// idFilter answers "may the bucket ids hold this entry?" from memory: a
// Bloom filter of every entry written to ids since Open, built at Open
// from the bucket. Most lookups of a delivery are of ids nobody wrote yet
// (a first attempt's key and log record, a new event's key), and a read
// transaction to learn that cost ~7 µs each end to end; a filter lookup is
// a few hashes. Entries removed by the sweep stay in the filter: a false
// "maybe" only costs the read it would have cost anyway.
//
// It grows as a scalable Bloom filter does: when the newest filter holds
// its capacity, a new one twice as big is added, and a lookup asks each.
// With bitsPerEntry 10 and 7 hashes, each answers a false "maybe" for
// under 1 % of absent entries. Adds are serialised (the committer, or Open);
// lookups run concurrently with them (atomic words), and an entry is added
// before the transaction that writes it commits, so a reader that misses
// it in the journal's overlay finds it here.
type idFilter struct {
	seed    maphash.Seed
	mu      sync.Mutex // adds
	filters atomic.Pointer[[]*bloom]
}

type bloom struct {
	words    []atomic.Uint64
	bits     uint64
	n, limit int
}

const (
	bitsPerEntry  = 10
	bloomHashes   = 7
	minFilterSize = 1 << 16 // entries
)

func newBloom(capacity int) *bloom {
	bits := uint64(capacity * bitsPerEntry)
	return &bloom{words: make([]atomic.Uint64, (bits+63)/64), bits: bits, limit: capacity}
}

// newIDFilter returns a filter of the keys of the bucket ids in tx.
func newIDFilter(tx *bbolt.Tx) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	n := tx.Bucket(bucketIDs).Stats().KeyN
	fs := []*bloom{newBloom(max(2*n, minFilterSize))}
	f.filters.Store(&fs)
	c := tx.Bucket(bucketIDs).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		f.add(k)
	}
	return f
}

func (f *idFilter) hash(k []byte) (uint64, uint64) {
	h := maphash.Bytes(f.seed, k)
	return h, h>>32 | 1
}

func (f *idFilter) add(k []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs := *f.filters.Load()
	b := fs[len(fs)-1]
	if b.n >= b.limit {
		b = newBloom(2 * b.limit)
		grown := append(fs[:len(fs):len(fs)], b)
		f.filters.Store(&grown)
	}
	h1, h2 := f.hash(k)
	for i := range uint64(bloomHashes) {
		bit := (h1 + i*h2) % b.bits
		b.words[bit/64].Or(1 << (bit % 64))
	}
	b.n++
}

// mayContain reports whether k may have been added; false is certain.
func (f *idFilter) mayContain(k []byte) bool {
	h1, h2 := f.hash(k)
	for _, b := range *f.filters.Load() {
		if b.has(h1, h2) {
			return true
		}
	}
	return false
}

func (b *bloom) has(h1, h2 uint64) bool {
	for i := range uint64(bloomHashes) {
		bit := (h1 + i*h2) % b.bits
		if b.words[bit/64].Load()&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
