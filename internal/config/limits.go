package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Size limits of the files pbenchd reads. A file above its limit is
// refused before it is read whole, so that a wrong path (/dev/zero, a log,
// a data dump) costs a clear error, not the memory of the host.
const (
	// MaxConfigFileSize limits a --config file.
	MaxConfigFileSize = 1 << 20 // 1 MiB
	// MaxScenarioFileSize limits a file of scenario_files.
	MaxScenarioFileSize = 1 << 20 // 1 MiB
	// MaxWebConfigFileSize limits the web config file.
	MaxWebConfigFileSize = 64 << 10 // 64 KiB
)

// ErrTooLarge is the error of a file above its size limit.
var ErrTooLarge = errors.New("file too large")

// ReadFileLimited reads a file of at most limit bytes; what names the
// kind of file in the error ("config file"). A regular file is refused
// from its size alone; anything else (a device, a pipe) is read up to the
// limit and refused if there is more.
func ReadFileLimited(path string, limit int64, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, above the %s limit of a %s", ErrTooLarge, st.Size(), sizeText(limit), what)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than the %s limit of a %s", ErrTooLarge, sizeText(limit), what)
	}
	return b, nil
}

func sizeText(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
