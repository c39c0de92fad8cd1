package loader

import (
	"context"
	"sync"
	"testing"
)

func TestLoadShardedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	connect, conn, schema := testSchema(t)
	other, items := specs(30_001, 2, ModeAuto)
	if _, err := Load(ctx, connect, mustCompile(t, other), other.LoadOptions()); err != nil {
		t.Fatal(err)
	}
	tables := mustCompile(t, items, other)
	shard := func(i int) Options {
		o := items.LoadOptions()
		o.Shard = Shard{Index: i, Count: 3}
		return o
	}

	// Two of three shards: both pending, nothing visible.
	for _, i := range []int{2, 0} {
		res, err := Load(ctx, connect, tables, shard(i))
		if err != nil || !res.Pending {
			t.Fatalf("shard %d/3: pending=%v err=%v, want pending", i, res.Pending, err)
		}
		if want := Partition(30_001, 3, i).Len(); res.Rows() != want {
			t.Errorf("shard %d/3 copied %d rows, want its share %d", i, res.Rows(), want)
		}
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'items'", schema); n != 0 {
		t.Fatal("items is visible before every shard is done")
	}
	// A shard rerun after completing does not copy again.
	if res, err := Load(ctx, connect, tables, shard(0)); err != nil || !res.Pending || res.Rows() != 0 {
		t.Fatalf("shard 0/3 rerun: %+v, %v; want pending with nothing copied", res, err)
	}
	// The last shard finishes the load.
	res, err := Load(ctx, connect, tables, shard(1))
	if err != nil || res.Pending || res.Skipped {
		t.Fatalf("last shard: %+v, %v", res, err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM items"); n != 30_001 {
		t.Errorf("items has %d rows, want 30001", n)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'items\\_\\_%'", schema); n != 0 {
		t.Errorf("%d shard or staging tables left", n)
	}
	if res, err := Load(ctx, connect, tables, shard(2)); err != nil || !res.Skipped {
		t.Errorf("shard rerun after the load: %+v, %v; want skipped", res, err)
	}

	// The same data as one instance loading everything.
	connect1, _, _ := testSchema(t)
	for _, s := range []*Spec{other, items} {
		if _, err := Load(ctx, connect1, mustCompile(t, s, other), s.LoadOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := checksum(t, connect, "items"), checksum(t, connect1, "items"); a != b {
		t.Errorf("sharded load checksum %s, whole load %s", a, b)
	}
}

func TestLoadShardsConcurrently(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	s := &Spec{
		Tables: &TableSet{Pattern: "c{{i}}", Count: 3}, Rows: 10_000, Workers: 2,
		Columns:    []ColumnSpec{{Name: "id", Kind: "sequence"}, {Name: "v", Kind: "string", Length: 10}},
		PrimaryKey: []string{"id"},
	}
	tables := mustCompile(t, s)
	const shards = 4
	var wg sync.WaitGroup
	results := make([]Result, shards)
	errs := make([]error, shards)
	for i := range shards {
		wg.Go(func() {
			o := s.LoadOptions()
			o.Shard = Shard{Index: i, Count: shards}
			results[i], errs[i] = Load(ctx, connect, tables, o)
		})
	}
	wg.Wait()
	finished := 0
	for i := range shards {
		if errs[i] != nil {
			t.Errorf("shard %d: %v", i, errs[i])
		}
		if !results[i].Pending {
			finished++
		}
	}
	if finished == 0 {
		t.Error("every shard says pending; one should have finished the load")
	}
	for i := range 3 {
		if n := queryInt(t, conn, "SELECT count(DISTINCT id) FROM c"+string(rune('0'+i))); n != 10_000 {
			t.Errorf("c%d has %d distinct ids, want 10000", i, n)
		}
	}
}
