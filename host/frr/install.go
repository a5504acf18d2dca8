package frr

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// DefaultBinDir is where Debian's frr package puts the daemons.
const DefaultBinDir = "/usr/lib/frr"

// ErrNotInstalled is returned (wrapped) when FRR's daemons or vtysh are
// missing.
var ErrNotInstalled = errors.New("FRR is not installed (apt-get install frr)")

// checkInstalled finds the daemons in binDir and vtysh on $PATH (or at
// vtysh, when it is a path).
func checkInstalled(binDir, vtysh string, daemons []string) (string, error) {
	for _, d := range daemons {
		p := filepath.Join(binDir, d)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: no %s", ErrNotInstalled, p)
		}
	}
	path, err := exec.LookPath(vtysh)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	return path, nil
}
