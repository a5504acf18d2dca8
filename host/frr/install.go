package frr

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/spklab/spklab/host/hosttools"
)

// DefaultBinDir is where Debian's frr package puts the daemons.
const DefaultBinDir = hosttools.FRRBinDir

// ErrNotInstalled is returned (wrapped) when FRR's daemons, its reload
// script or vtysh are missing.
var ErrNotInstalled = errors.New("FRR is not installed")

// checkInstalled finds the daemons and frr-reload.py in binDir and vtysh on
// $PATH (or at vtysh, when it is a path). The reload script is required,
// not optional: without it a changed frr.conf could only be applied by a
// restart, which resets every BGP session.
func checkInstalled(binDir, vtysh string, daemons []string) (string, error) {
	var tools []hosttools.Tool
	for _, d := range daemons {
		tools = append(tools, hosttools.Tool{Program: filepath.Join(binDir, d), Package: "frr", Why: "the FRR daemons"})
	}
	tools = append(tools,
		hosttools.Tool{Program: filepath.Join(binDir, "frr-reload.py"), Package: "frr-pythontools", Why: "applying a changed frr.conf without a restart"},
		hosttools.Tool{Program: vtysh, Package: "frr", Why: "FRR's shell"})
	if err := hosttools.Require("FRR", tools); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	path, err := exec.LookPath(vtysh)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	return path, nil
}
