package envelope

import (
	"cmp"
	"container/heap"
	"slices"
	"strconv"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// node is a value in the canonical data: the root, every object or array,
// and every object member's value. Scalars inside arrays get no node; they
// are never removed on their own.
type node struct {
	parent      int32
	first, next int32 // children in document order
	last        int32
	key, colon  int // a member's key, quotes included, is data[key:colon]; key < 0 for non-members
	start, end  int // the value is data[start:end]
	index       int // position in the parent array, for paths
	size        int // current size of the value, after removals below it
	count       int // current number of members (objects)
	kind        byte
	link        bool // is a link member or holds one
	removed     bool
	dirty       bool // something below was removed
}

type tree struct {
	data      []byte
	nodes     []node
	fixed     int     // bytes outside data: the envelope fields and the final '}'
	truncated int32   // the top-level "truncated" member, or -1
	removed   []int32 // removed members, in removal order
	info      Info
}

// truncate cuts the body buf, whose data starts at dataStart, down to
// MaxBody; see RenderInfo for the rule.
func truncate(buf []byte, dataStart int) ([]byte, Info, error) {
	data := buf[dataStart : len(buf)-1]
	if data[0] != '{' {
		return nil, Info{}, tooLarge(len(buf), "data is not an object")
	}
	t := &tree{data: data, fixed: dataStart + 1, truncated: -1}
	t.nodes = make([]node, 0, 64)
	t.build(0, -1, -1, -1, 0)
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.key >= 0 && n.parent == 0 && string(t.keyText(int32(i))) == "truncated" {
			t.truncated = int32(i)
		}
	}

	// Candidates: members that are neither links nor hold one, and are
	// not (in) the top-level "truncated" member, which becomes true.
	var transcripts, strs, rest []int32
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.key < 0 || n.link || t.under(int32(i), t.truncated) {
			continue
		}
		switch {
		case string(t.keyText(int32(i))) == "transcript":
			transcripts = append(transcripts, int32(i))
		case n.kind == '"':
			strs = append(strs, int32(i))
		default:
			rest = append(rest, int32(i))
		}
	}
	bySize := func(a, b int32) int {
		if c := cmp.Compare(t.cost(b), t.cost(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
	for _, phase := range [][]int32{transcripts, strs} {
		slices.SortStableFunc(phase, bySize)
		for _, id := range phase {
			if t.total() <= MaxBody {
				break
			}
			if !t.gone(id) {
				t.remove(id)
			}
		}
	}
	textRemoved := len(t.removed) // by steps 1 and 2
	if t.total() > MaxBody {
		// Sizes change as members below are removed: a max-heap keyed by
		// the size at push time, re-pushed when found stale.
		h := &costHeap{}
		for _, id := range rest {
			h.items = append(h.items, costItem{t.cost(id), id})
		}
		heap.Init(h)
		for h.Len() > 0 && t.total() > MaxBody {
			it := heap.Pop(h).(costItem)
			if t.gone(it.id) {
				continue
			}
			if c := t.cost(it.id); c < it.cost {
				heap.Push(h, costItem{c, it.id})
				continue
			}
			t.remove(it.id)
		}
	}
	if t.total() > MaxBody {
		return nil, Info{}, tooLarge(t.total(), "links and envelope fields alone")
	}
	if len(t.removed) > textRemoved {
		// Step 3 removed something: text removed before it may fit again.
		// (Without step 3, text goes as the rule says, transcript first,
		// whatever else the data holds.)
		t.putBack()
	}
	if t.truncated >= 0 {
		if n := &t.nodes[t.truncated]; string(t.data[n.start:n.end]) != "true" {
			t.info.DroppedCount++
			t.info.Dropped = append(t.info.Dropped, "truncated") // its value, replaced by true
		}
	}
	for _, id := range t.removed {
		if !t.nodes[id].removed {
			continue
		}
		t.info.DroppedCount++
		if len(t.info.Dropped) < MaxDroppedListed {
			t.info.Dropped = append(t.info.Dropped, t.path(id))
		}
	}

	out := make([]byte, 0, t.total())
	out = append(out, buf[:dataStart]...)
	out = t.render(out, 0)
	out = append(out, '}')
	if len(out) != t.total() || len(out) > MaxBody {
		// The size bookkeeping is exact; this is a bug, not bad input.
		return nil, Info{}, tooLarge(len(out), "internal size mismatch with "+strconv.Itoa(t.total()))
	}
	t.info.Size = len(out)
	t.info.Truncated = true
	return out, t.info, nil
}

func tooLarge(size int, why string) error {
	return &webhook.Error{Kind: webhook.KindInvalid, Field: "data",
		Message: "body of " + strconv.Itoa(size) + " bytes can't be cut to " + strconv.Itoa(MaxBody) + " (" + why + ")",
		Err:     ErrTooLarge}
}

// build adds the value at data[i] (a member's value when key >= 0) and
// everything in it, and returns the index just past it.
func (t *tree) build(i int, parent int32, key, colon, index int) int {
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, node{parent: parent, first: -1, next: -1, last: -1,
		key: key, colon: colon, start: i, index: index, kind: t.data[i]})
	if parent >= 0 {
		p := &t.nodes[parent]
		if p.last >= 0 {
			t.nodes[p.last].next = id
		} else {
			p.first = id
		}
		p.last = id
	}
	if key >= 0 {
		if k := t.data[key+1 : colon-1]; isLink(k) {
			for a := id; a >= 0 && !t.nodes[a].link; a = t.nodes[a].parent {
				t.nodes[a].link = true
			}
		}
	}
	d := t.data
	count := 0
	switch d[i] {
	case '{':
		i++
		for d[i] != '}' {
			keyEnd := skipString(d, i)
			i = t.build(keyEnd+1, id, i, keyEnd, -1)
			count++
			if d[i] == ',' {
				i++
			}
		}
		i++
	case '[':
		i++
		for d[i] != ']' {
			if d[i] == '{' || d[i] == '[' {
				i = t.build(i, id, -1, -1, count)
			} else {
				i = skipValue(d, i)
			}
			count++
			if d[i] == ',' {
				i++
			}
		}
		i++
	default:
		i = skipValue(d, i)
	}
	n := &t.nodes[id]
	n.end, n.size, n.count = i, i-n.start, count
	return i
}

func isLink(key []byte) bool {
	for _, l := range Links {
		if string(key) == l {
			return true
		}
	}
	return false
}

func (t *tree) keyText(id int32) []byte {
	n := &t.nodes[id]
	return t.data[n.key+1 : n.colon-1]
}

// cost is the size of member id: "key":value.
func (t *tree) cost(id int32) int {
	n := &t.nodes[id]
	return n.colon - n.key + 1 + n.size
}

// under reports whether id is anc or below it.
func (t *tree) under(id, anc int32) bool {
	if anc < 0 {
		return false
	}
	for a := id; a >= 0; a = t.nodes[a].parent {
		if a == anc {
			return true
		}
	}
	return false
}

// gone reports whether id or an ancestor was removed.
func (t *tree) gone(id int32) bool {
	for a := id; a >= 0; a = t.nodes[a].parent {
		if t.nodes[a].removed {
			return true
		}
	}
	return false
}

// total is the size of the body if rendered now, "truncated":true
// included.
func (t *tree) total() int {
	root := &t.nodes[0]
	mark := len(`"truncated":true`)
	switch {
	case t.truncated >= 0:
		mark = len("true") - t.nodes[t.truncated].size
	case root.count > 0:
		mark++ // the comma
	}
	return t.fixed + root.size + mark
}

func (t *tree) remove(id int32) {
	n := &t.nodes[id]
	p := n.parent
	saved := t.cost(id)
	if t.nodes[p].count > 1 {
		saved++ // a comma
	}
	t.nodes[p].count--
	n.removed = true
	for a := p; a >= 0; a = t.nodes[a].parent {
		t.nodes[a].size -= saved
		t.nodes[a].dirty = true
	}
	t.removed = append(t.removed, id)
}

// putBack restores, most recently removed first, the members removed
// earlier that fit again now. Only a member removed in step 3 (a big
// array, say) can make room for text removed before it: without this, a
// body over MaxBody because of numbers would lose every string on the way.
func (t *tree) putBack() {
	for i := len(t.removed) - 1; i >= 0; i-- {
		id := t.removed[i]
		n := &t.nodes[id]
		if !n.removed || t.gone(n.parent) {
			continue
		}
		p := n.parent
		added := t.cost(id)
		if t.nodes[p].count > 0 {
			added++ // a comma
		}
		if t.total()+added+t.markChange(p, 1) > MaxBody {
			continue
		}
		t.nodes[p].count++
		n.removed = false
		for a := p; a >= 0; a = t.nodes[a].parent {
			t.nodes[a].size += added
		}
	}
}

// markChange is how much "truncated":true grows when object p's member
// count changes by delta: only its comma, and only for the root.
func (t *tree) markChange(p int32, delta int) int {
	if p != 0 || t.truncated >= 0 {
		return 0
	}
	before, after := t.nodes[0].count > 0, t.nodes[0].count+delta > 0
	switch {
	case !before && after:
		return 1
	case before && !after:
		return -1
	}
	return 0
}

// path names node id relative to data: "metadata.notes", "segments[3].text".
func (t *tree) path(id int32) string {
	var parts []string
	for a := id; a > 0; a = t.nodes[a].parent {
		n := &t.nodes[a]
		if n.key >= 0 {
			parts = append(parts, string(t.keyText(a)))
			if n.parent != 0 {
				parts = append(parts, ".")
			}
		} else {
			parts = append(parts, "["+strconv.Itoa(n.index)+"]")
		}
	}
	slices.Reverse(parts)
	s := ""
	for _, p := range parts {
		s += p
	}
	return s
}

// render appends node id without its removed members.
func (t *tree) render(out []byte, id int32) []byte {
	n := &t.nodes[id]
	if !n.dirty && id != 0 {
		return append(out, t.data[n.start:n.end]...)
	}
	if n.kind == '[' {
		cur := n.start
		for c := n.first; c >= 0; c = t.nodes[c].next {
			out = append(out, t.data[cur:t.nodes[c].start]...)
			out = t.render(out, c)
			cur = t.nodes[c].end
		}
		return append(out, t.data[cur:n.end]...)
	}
	out = append(out, '{')
	first := true
	for c := n.first; c >= 0; c = t.nodes[c].next {
		m := &t.nodes[c]
		if m.removed {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, t.data[m.key:m.colon+1]...)
		if c == t.truncated {
			out = append(out, "true"...)
		} else {
			out = t.render(out, c)
		}
	}
	if id == 0 && t.truncated < 0 {
		if !first {
			out = append(out, ',')
		}
		out = append(out, `"truncated":true`...)
	}
	return append(out, '}')
}

type costItem struct {
	cost int
	id   int32
}

type costHeap struct{ items []costItem }

func (h *costHeap) Len() int { return len(h.items) }
func (h *costHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.cost > b.cost || a.cost == b.cost && a.id < b.id
}
func (h *costHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *costHeap) Push(x any)    { h.items = append(h.items, x.(costItem)) }
func (h *costHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}
