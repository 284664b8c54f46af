// Package recent remembers values by key for the last keys added, a fixed
// number of them: what the connection table and the detectors keep of
// connections that ended, so that a packet continuing one finds it.
package recent

// Table holds the values of the last Max keys added; the oldest is
// overwritten first. Its memory is fixed once full, and with keys and
// values without pointers the garbage collector never scans it. The zero
// Table (or Max 0) keeps nothing. It is not safe for concurrent use.
type Table[K comparable, V any] struct {
	max  int
	ring []entry[K, V]
	next int // the slot to overwrite next, once the ring is full
	idx  map[K]int32
}

type entry[K comparable, V any] struct {
	k K
	v V
}

// New returns a Table of at most max keys.
func New[K comparable, V any](max int) Table[K, V] { return Table[K, V]{max: max} }

// Len is the number of keys held.
func (t *Table[K, V]) Len() int { return len(t.idx) }

// Add sets the value of k (a key added again takes a new slot).
func (t *Table[K, V]) Add(k K, v V) {
	if t.max <= 0 {
		return
	}
	if t.idx == nil {
		t.idx = make(map[K]int32)
	}
	if len(t.ring) < t.max {
		t.idx[k] = int32(len(t.ring))
		t.ring = append(t.ring, entry[K, V]{k, v})
		return
	}
	// The slot's key may have been taken or added again since.
	if old := t.ring[t.next].k; t.idx[old] == int32(t.next) {
		delete(t.idx, old)
	}
	t.ring[t.next] = entry[K, V]{k, v}
	t.idx[k] = int32(t.next)
	t.next = (t.next + 1) % t.max
}

// Take returns the value of k and forgets it.
func (t *Table[K, V]) Take(k K) (V, bool) {
	i, ok := t.idx[k]
	if !ok {
		var zero V
		return zero, false
	}
	delete(t.idx, k)
	return t.ring[i].v, true
}

// Has reports whether k is held.
func (t *Table[K, V]) Has(k K) bool {
	_, ok := t.idx[k]
	return ok
}
