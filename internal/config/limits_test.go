package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestFileSizeLimits: files above their limit are refused with an exact
// error before being read whole; devices that never end are read up to
// the limit only. A file of exactly the limit is read.
func TestFileSizeLimits(t *testing.T) {
	dir := t.TempDir()
	// comment makes a YAML file of n bytes that is all comment lines.
	comment := func(name string, n int) string {
		line := "# " + strings.Repeat("x", 61) + "\n" // 64 bytes
		b := []byte(strings.Repeat(line, n/64+1))[:n]
		b[n-1] = '\n'
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	big := comment("big.yaml", config.MaxConfigFileSize+1)
	limit := comment("limit.yaml", config.MaxConfigFileSize)
	bigScenario := comment("scenario.yaml", 50<<20)
	cases := []struct {
		name  string
		files []string
		set   map[string]any
		want  string // "" = loads
	}{
		{"a config file one byte above the limit", []string{big},
			nil, big + ": file too large: 1048577 bytes, above the 1 MiB limit of a config file"},
		{"a config file of exactly the limit", []string{limit}, nil, ""},
		{"/dev/zero as the config", []string{"/dev/zero"},
			nil, "/dev/zero: file too large: more than the 1 MiB limit of a config file"},
		{"/dev/urandom as the config", []string{"/dev/urandom"},
			nil, "/dev/urandom: file too large: more than the 1 MiB limit of a config file"},
		{"a 50 MiB scenario file", nil, map[string]any{"scenario_files": []string{bigScenario}},
			"scenario_files: " + bigScenario + ": file too large: 52428800 bytes, above the 1 MiB limit of a scenario file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(config.Options{Kinds: action.Kinds, Environ: []string{}, Files: tc.files, Set: tc.set})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want no error, got:\n%v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("loaded; want the error\n%s", tc.want)
			case tc.want != "" && err.Error() != tc.want:
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}
