package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/bbolt"
)

// Delivery records are written once, to the write-ahead log, and stay
// there: the delivery_records bucket holds a reference to the record's
// place in the log,
//
//	recordRef | segment uint64 | offset uint64 | len uint32
//
// where offset and len are those of the log record's payload ('L' and the
// JSON). A value starting with '{' is a record kept in the bucket itself,
// as earlier versions did; it is read as it is. A delivery record of a few
// KiB in the B+tree cost a page write of its own, on top of its log
// record; referenced, it costs a few dozen bytes of index (measured with
// BenchmarkPipeline: pages per delivery 0.8 → 0.3, and less CPU than
// copying the records into files of their own, which was tried too).
//
// A log segment no longer needed by the log (queue.go's tidyLog) but
// still referred to is kept: it moves, by a rename, to <db file>.records/,
// where it is only read. The bucket delivery_segments counts the references
// into each segment; a kept segment with none left (its deliveries
// replaced by later attempts, or swept) is removed after the sweep and at
// Open. Deliveries expire in about the order they were written, so kept
// segments empty as a whole. The price is disk: a kept segment holds
// the log's other records (queue messages, mostly) until its last
// delivery expires; a record that never expires (a zero ExpiresAt, which
// the deliverer never writes) keeps its segment.
//
// Reads of records in read transactions hold gate for reading; removing a
// segment holds it for writing, so no segment goes under a reader whose
// snapshot still refers to it. The committer's own reads need no gate: a
// segment is retired only once the committer has applied every journaled
// write in it, so once no commit refers to a segment none ever will again.
type keptSegments struct {
	dir string

	gate sync.RWMutex

	mu   sync.Mutex // guards kept
	kept map[uint64]*os.File
}

const (
	recordRef    = 0x01
	recordRefLen = 1 + 8 + 8 + 4
)

var bucketDeliverySegments = []byte("delivery_segments") // log segment → references to it

// recordRefOf returns the reference to a record journaled at pos (where
// its payload starts) with the JSON v.
func recordRefOf(pos walPos, v []byte) []byte {
	ref := make([]byte, 0, recordRefLen)
	ref = append(ref, recordRef)
	ref = binary.BigEndian.AppendUint64(ref, pos.seg)
	ref = binary.BigEndian.AppendUint64(ref, uint64(pos.off))
	return binary.BigEndian.AppendUint32(ref, uint32(1+len(v)))
}

// isRef reports whether a delivery_records value is a reference.
func isRef(v []byte) bool { return len(v) == recordRefLen && v[0] == recordRef }

func refSegment(ref []byte) uint64 { return binary.BigEndian.Uint64(ref[1:]) }

func openKeptSegments(dir string) (*keptSegments, error) {
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	r := &keptSegments{dir: dir, kept: map[uint64]*os.File{}}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		id, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			r.close()
			return nil, err
		}
		r.kept[id] = f
	}
	return r, nil
}

// readRecord returns the JSON of the record ref refers to, from the log or
// from a kept segment.
func (db *DB) readRecord(ref []byte) ([]byte, error) {
	seg := refSegment(ref)
	off := int64(binary.BigEndian.Uint64(ref[9:]))
	n := int(binary.BigEndian.Uint32(ref[17:]))
	at := walPos{seg, off - walHeader}
	b, err := db.wal.readAt(at, walHeader+n)
	if errors.Is(err, errRetired) {
		r := db.records
		r.mu.Lock()
		f := r.kept[seg]
		r.mu.Unlock()
		if f == nil {
			return nil, fmt.Errorf("log segment %d: neither in the log nor kept", seg)
		}
		b = make([]byte, walHeader+n)
		_, err = f.ReadAt(b, at.off)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return nil, fmt.Errorf("log segment %d at %d: %w", seg, off, err)
	}
	p := b[walHeader:]
	if int(binary.LittleEndian.Uint32(b)) != n || crc32.Checksum(p, walTable) != binary.LittleEndian.Uint32(b[4:]) || p[0] != recordDelivery {
		return nil, fmt.Errorf("log segment %d at %d: checksum mismatch", seg, off)
	}
	return p[1:], nil
}

// countRef adds delta to the references into ref's segment.
func countRef(tx *bbolt.Tx, ref []byte, delta int64) error {
	b := tx.Bucket(bucketDeliverySegments)
	k := ref[1:9]
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	if n += delta; n <= 0 {
		return b.Delete(k)
	}
	return b.Put(slices.Clone(k), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// referred returns the segments that committed references point into.
func (db *DB) referred() (map[uint64]bool, error) {
	used := map[uint64]bool{}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDeliverySegments).ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				used[binary.BigEndian.Uint64(k)] = true
			}
			return nil
		})
	})
	return used, err
}

// retireSegment retires the oldest log segment, id: it is removed, or
// kept if delivery records in it are still referred to. The committer has
// applied every journaled write in it (tidyLog checks), so references into
// it can only go: one seen gone stays gone. Removal waits for the readers
// (gate); keeping does not need to, the file stays open.
func (db *DB) retireSegment(id uint64) error {
	r := db.records
	used, err := db.referred()
	if err != nil {
		return err
	}
	if !used[id] {
		r.gate.Lock()
		defer r.gate.Unlock()
		return db.wal.retire(id, nil)
	}
	return db.wal.retire(id, func(path string) (func(*os.File), error) {
		if err := os.Rename(path, filepath.Join(r.dir, filepath.Base(path))); err != nil {
			return nil, err
		}
		if err := syncDir(r.dir); err != nil {
			return nil, err
		}
		return func(f *os.File) {
			r.mu.Lock()
			r.kept[id] = f
			r.mu.Unlock()
		}, nil
	})
}

// removeUnused removes the kept segments no committed reference points
// into.
func (db *DB) removeUnused() error {
	r := db.records
	r.gate.Lock()
	defer r.gate.Unlock()
	used, err := db.referred()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	removed := false
	for id, f := range r.kept {
		if used[id] {
			continue
		}
		// Removed before it is forgotten, so that a failure is retried
		// at the next sweep (nothing reads the open file meanwhile).
		if err := os.Remove(filepath.Join(r.dir, segmentName(id))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove kept log segment %d: %w", id, err)
		}
		f.Close()
		delete(r.kept, id)
		removed = true
	}
	if removed {
		return syncDir(r.dir)
	}
	return nil
}

func (r *keptSegments) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, f := range r.kept {
		errs = append(errs, f.Close())
	}
	r.kept = nil
	return errors.Join(errs...)
}
