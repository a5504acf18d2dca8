package cli

import "github.com/spf13/cobra"

// newDoctorCommand is `spklab doctor`.
func newDoctorCommand(_ *options) *cobra.Command {
	return notBuilt("doctor", "Check the host (docker, privileged containers, kernel features) and fix it", "the host checks")
}
