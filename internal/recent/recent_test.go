package recent

import "testing"

func TestTable(t *testing.T) {
	type op struct {
		add  bool
		k, v int
	}
	for _, tc := range []struct {
		name string
		max  int
		ops  []op
		want map[int]int // key → value held at the end
	}{
		{"nothing kept with max 0", 0, []op{{true, 1, 10}}, map[int]int{}},
		{"under the bound", 3, []op{{true, 1, 10}, {true, 2, 20}}, map[int]int{1: 10, 2: 20}},
		{"oldest overwritten", 2, []op{{true, 1, 10}, {true, 2, 20}, {true, 3, 30}}, map[int]int{2: 20, 3: 30}},
		{"a key added again keeps its newest value and outlives its old slot", 2,
			[]op{{true, 1, 10}, {true, 2, 20}, {true, 1, 11}, {true, 3, 30}}, map[int]int{1: 11, 3: 30}},
		{"taken keys are gone; their slot is reused safely", 2,
			[]op{{true, 1, 10}, {false, 1, 0}, {true, 2, 20}, {true, 3, 30}, {true, 1, 12}}, map[int]int{3: 30, 1: 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := New[int, int](tc.max)
			for _, o := range tc.ops {
				if o.add {
					tb.Add(o.k, o.v)
				} else if _, ok := tb.Take(o.k); !ok {
					t.Fatalf("Take(%d): not held", o.k)
				}
			}
			if tb.Len() != len(tc.want) {
				t.Errorf("Len %d, want %d", tb.Len(), len(tc.want))
			}
			for k := range 5 {
				want, held := tc.want[k]
				if tb.Has(k) != held {
					t.Errorf("Has(%d) = %v, want %v", k, !held, held)
				}
				v, ok := tb.Take(k)
				if ok != held || v != want {
					t.Errorf("Take(%d) = %d, %v; want %d, %v", k, v, ok, want, held)
				}
				if tb.Has(k) {
					t.Errorf("Has(%d) after Take", k)
				}
			}
		})
	}
}
