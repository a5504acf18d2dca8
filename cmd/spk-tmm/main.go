// Command spk-tmm is the emulated TMM: a user-space data plane on raw
// interfaces (AF_PACKET; DPDK with -tags dpdk), a BGP speaker and the config
// API the controller pushes to. This build does not have it yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "spk-tmm: not built yet: this build has no data plane (see README.md, \"Status\")")
	os.Exit(3)
}
