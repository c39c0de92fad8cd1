// Package config holds pbenchd's built-in configuration: the default
// pbenchd.yaml and the scenario catalog, embedded in the binary.
package config

import "embed"

// FS holds pbenchd.yaml and scenarios/*.yaml.
//
//go:embed pbenchd.yaml scenarios/*.yaml
var FS embed.FS
