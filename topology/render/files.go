// Package render turns a topology into the files and specs the lab runs from:
// kind config, docker networks, compose project, FRR config, Multus NADs,
// diagrams.
package render

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/spklab/spklab/internal/ipcheck"
)

// File is one rendered file of a directory the lab mounts or runs from.
type File struct {
	// Name is relative to that directory, e.g. "frr.conf".
	Name string
	Mode os.FileMode
	Data []byte
}

// parseFamilyAddr parses s as an address of the family wanted (4 or 6) and
// returns it in canonical form, which is also how iproute2 prints it.
func parseFamilyAddr(what, s string, family int) (netip.Addr, error) {
	f := ipcheck.Any
	switch family {
	case 4:
		f = ipcheck.IPv4
	case 6:
		f = ipcheck.IPv6
	}
	a, reason := ipcheck.Addr(s, f)
	if reason != "" {
		return netip.Addr{}, fmt.Errorf("%s: %s", what, reason)
	}
	return a, nil
}

// parseCIDR parses s as a canonical CIDR (no host bits set).
func parseCIDR(what, s string) (netip.Prefix, error) {
	p, reason := ipcheck.Prefix(s, ipcheck.Any)
	if reason != "" {
		return netip.Prefix{}, fmt.Errorf("%s: %s", what, reason)
	}
	return p, nil
}

// checkToken rejects what cannot be written as one token into a config file
// or shell script without changing its meaning.
func checkToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r))
	}) {
		return fmt.Errorf("%s: %q may hold only letters, digits, '-', '_' and '.'", what, s)
	}
	return nil
}

// WriteFiles writes rendered files into dir with their modes.
func WriteFiles(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(path, f.Data, mode); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		// WriteFile keeps the mode of an existing file; make it what was rendered.
		if err := os.Chmod(path, mode&fs.ModePerm); err != nil {
			return fmt.Errorf("setting mode of %s: %w", path, err)
		}
	}
	return nil
}
