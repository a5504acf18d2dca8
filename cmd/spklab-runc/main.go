// Command spklab-runc is the runc wrapper `spklab doctor --fix` registers as
// dockerd's default runtime on machines where privileged containers fail
// for want of a capability (see host/doctor/runcwrap). Run as spklab-probe it
// prints its capabilities instead: the doctor's throwaway test image.
//
// It is its own small program, not a spklab subcommand, because dockerd
// runs it several times for every container: it must start in a
// millisecond, be statically linked (the probe image holds nothing else)
// and not depend on the spklab binary staying where it was built.
package main

import (
	"os"

	"github.com/spklab/spklab/host/doctor/runcwrap"
)

func main() {
	os.Exit(runcwrap.Main(os.Args, os.Stdout, os.Stderr))
}
