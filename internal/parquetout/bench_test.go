package parquetout_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tcpviz/tcpviz/internal/testutil/duckdb"
)

// BenchmarkDuckDBQueries times the documented queries over the Parquet tree
// in $TCPVIZ_BENCH_PARQUET (scripts/bench-parquet.sh makes one); each
// iteration starts DuckDB (node) and runs one query, so the figure includes
// about 0.2 s of start-up.
func BenchmarkDuckDBQueries(b *testing.B) {
	root := os.Getenv("TCPVIZ_BENCH_PARQUET")
	if root == "" {
		b.Skip("TCPVIZ_BENCH_PARQUET names no Parquet tree (scripts/bench-parquet.sh)")
	}
	db := duckdb.Open(b)
	qs := docQueries(b, root)
	for _, name := range []string{"top_services", "p95_rtt", "window_limited"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := db.Run([]duckdb.Query{{Name: name, SQL: strings.TrimSpace(qs[name])}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("startup", func(b *testing.B) {
		for range b.N {
			if _, err := db.Run([]duckdb.Query{{Name: "x", SQL: "SELECT 1"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseWithParquet runs a capture ($TCPVIZ_BENCH_CAPTURE) through
// the pipeline into the Parquet tables, packets included.
func BenchmarkParseWithParquet(b *testing.B) {
	in := os.Getenv("TCPVIZ_BENCH_CAPTURE")
	if in == "" {
		b.Skip("TCPVIZ_BENCH_CAPTURE names no capture")
	}
	for range b.N {
		root := b.TempDir()
		parseSample(b, in, root, "bench")
	}
}
