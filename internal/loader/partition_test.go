package loader

import (
	"errors"
	"testing"
)

func TestPartitionLargestShare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		m          int64
		n          int
		largest    int64
		firstSizes []int64
	}{
		{name: "100 over 16", m: 100, n: 16, largest: 7, firstSizes: []int64{7, 7, 7, 7, 6}},
		{name: "100 over 32", m: 100, n: 32, largest: 4, firstSizes: []int64{4, 4, 4, 4, 3}},
		{name: "100 over 64", m: 100, n: 64, largest: 2, firstSizes: []int64{2, 2, 2, 2}},
		{name: "even split", m: 100, n: 4, largest: 25, firstSizes: []int64{25, 25, 25, 25}},
		{name: "fewer items than workers", m: 3, n: 8, largest: 1, firstSizes: []int64{1, 1, 1, 0, 0}},
		{name: "no items", m: 0, n: 5, largest: 0, firstSizes: []int64{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var largest int64
			for i := range tc.n {
				largest = max(largest, Partition(tc.m, tc.n, i).Len())
			}
			if largest != tc.largest {
				t.Errorf("largest share = %d, want %d", largest, tc.largest)
			}
			for i, want := range tc.firstSizes {
				if got := Partition(tc.m, tc.n, i).Len(); got != want {
					t.Errorf("worker %d share = %d, want %d", i, got, want)
				}
			}
		})
	}
}

func TestPartitionTilesProperty(t *testing.T) {
	ms := []int64{0, 1, 2, 3, 7, 63, 64, 65, 100, 101, 1000, 999_983, 6_001_215, 1 << 40}
	for m := int64(0); m <= 130; m++ {
		ms = append(ms, m)
	}
	for _, m := range ms {
		for n := 1; n <= 70; n++ {
			checkTiling(t, m, n)
		}
		checkTiling(t, m, 1000)
	}
}

func checkTiling(t *testing.T, m int64, n int) {
	t.Helper()
	ceil := (m + int64(n) - 1) / int64(n)
	var next, largest int64
	for i := range n {
		r := Partition(m, n, i)
		if r.Start != next {
			t.Fatalf("m=%d n=%d: worker %d starts at %d, want %d (the previous end)", m, n, i, r.Start, next)
		}
		wantStart := int64(i)*(m/int64(n)) + min(int64(i), m%int64(n))
		if r.Start != wantStart {
			t.Fatalf("m=%d n=%d: worker %d starts at %d, want i·floor(m/n)+min(i, m mod n) = %d", m, n, i, r.Start, wantStart)
		}
		if r.Len() < m/int64(n) || r.Len() > ceil {
			t.Fatalf("m=%d n=%d: worker %d has %d items, want floor or ceil of m/n", m, n, i, r.Len())
		}
		largest = max(largest, r.Len())
		next = r.End
	}
	if next != m {
		t.Fatalf("m=%d n=%d: ranges end at %d, want %d", m, n, next, m)
	}
	if largest != ceil {
		t.Fatalf("m=%d n=%d: largest share %d, want ceil(m/n) = %d", m, n, largest, ceil)
	}
}

func TestShardComposition(t *testing.T) {
	for _, m := range []int64{0, 1, 5, 100, 1001, 60_175} {
		for _, shards := range []int{1, 2, 3, 8} {
			for _, workers := range []int{1, 3, 4, 16} {
				var next int64
				for s := range shards {
					shard := Shard{Index: s, Count: shards}.Range(m)
					for w := range workers {
						r := shard.Split(workers, w)
						if r.Start != next || r.Start < shard.Start || r.End > shard.End {
							t.Fatalf("m=%d shard %d/%d worker %d: %s does not continue at %d inside %s", m, s, shards, w, r, next, shard)
						}
						next = r.End
					}
				}
				if next != m {
					t.Fatalf("m=%d %d shards × %d workers end at %d", m, shards, workers, next)
				}
			}
		}
	}
	if got := (Shard{}).Range(10); got != (Range{0, 10}) {
		t.Errorf("zero Shard covers %s, want the whole [0, 10)", got)
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{in: "2/8", want: Shard{2, 8}},
		{in: "0/1", want: Shard{0, 1}},
		{in: " 7 / 8 ", want: Shard{7, 8}},
		{in: "8/8", err: `bad shard "8/8": index 8 is outside 0..7 (shards are numbered from 0)`},
		{in: "-1/8", err: `bad shard "-1/8": index -1 is outside 0..7 (shards are numbered from 0)`},
		{in: "2/0", err: `bad shard "2/0": count 0 must be at least 1`},
		{in: "2", err: `bad shard "2": want INDEX/COUNT like 2/8 (shards are numbered from 0)`},
		{in: "a/8", err: `bad shard "a/8": index "a" is not a whole number`},
		{in: "1/x", err: `bad shard "1/x": count "x" is not a whole number`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseShard(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("ParseShard(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				if !errors.Is(err, ErrBadShard) {
					t.Errorf("error does not wrap ErrBadShard")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseShard(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := ParseShard(got.String()); err != nil || back != got {
				t.Errorf("ParseShard(%q.String()) = %v, %v; want it back", tc.in, back, err)
			}
		})
	}
}

func TestPartitionPanicsOnMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    int64
		n, i int
	}{{"no workers", 10, 0, 0}, {"worker out of range", 10, 4, 4}, {"negative items", -1, 4, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Partition(%d, %d, %d) did not panic", tc.m, tc.n, tc.i)
				}
			}()
			Partition(tc.m, tc.n, tc.i)
		})
	}
}
