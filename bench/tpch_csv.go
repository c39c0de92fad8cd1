//go:build ignore

// tpch_csv writes pbenchd's TPC-H-shaped tables as CSV files, split into
// parts for parallel streams, with the DDL to load them by hand:
//
//	go run ./bench/tpch_csv.go -sf 0.1 -parts 2 -out DIR
//
// DIR gets create.sql, keys.sql (primary keys), fks.sql and
// <table>.<part>.csv. bench/load_tpch.sh uses it to time psql's \copy of
// the same rows pbenchd loads.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/tpch"
)

func main() {
	sf := flag.Float64("sf", 0.01, "scale factor")
	seed := flag.Uint64("seed", 1, "seed")
	parts := flag.Int("parts", 1, "CSV files per table")
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	g, err := tpch.New(*sf, *seed)
	if err != nil {
		log.Fatal(err)
	}
	var create, keys strings.Builder
	for _, t := range g.Tables(tpch.TableOptions{}) {
		fmt.Fprintf(&create, "%s;\n", t.CreateSQL(""))
		fmt.Fprintf(&keys, "ALTER TABLE %s ADD PRIMARY KEY (%s);\n", t.Name, strings.Join(t.PrimaryKey, ", "))
		for i := range *parts {
			f, err := os.Create(filepath.Join(*out, fmt.Sprintf("%s.%d.csv", t.Name, i)))
			if err != nil {
				log.Fatal(err)
			}
			if _, err := loader.WriteCSV(f, t.Rows(loader.Partition(t.Items, *parts, i))); err != nil {
				log.Fatal(err)
			}
			if err := f.Close(); err != nil {
				log.Fatal(err)
			}
		}
	}
	fks := strings.Join(tpch.ForeignKeys(tpch.TableOptions{}), ";\n") + ";\n"
	for name, text := range map[string]string{"create.sql": create.String(), "keys.sql": keys.String(), "fks.sql": fks} {
		if err := os.WriteFile(filepath.Join(*out, name), []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
