// Command spk-node is the node agent: per-tenant VXLAN devices and policy
// routes that carry tenant egress to TMM. This build does not have it yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "spk-node: not built yet: this build has no node agent (see README.md, \"Status\")")
	os.Exit(3)
}
