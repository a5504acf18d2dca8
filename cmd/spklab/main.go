// Command spklab builds and tests the F5 SPK workshop lab on one machine.
package main

import (
	"os"

	"github.com/spklab/spklab/cmd/spklab/cli"
)

func main() {
	os.Exit(cli.Execute())
}
