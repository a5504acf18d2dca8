// Command spk-controller turns the SPK custom resources (F5SPKVlan,
// F5SPKIngressTCP, F5SPKSnatpool, F5SPKEgress) into TMM config and pushes it
// to every TMM replica. This build does not have it yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "spk-controller: not built yet: this build has no controller (see README.md, \"Status\")")
	os.Exit(3)
}
