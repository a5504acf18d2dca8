package cli

import "github.com/spf13/cobra"

// newImagesCommand is `spklab images`.
func newImagesCommand(_ *options) *cobra.Command {
	return notBuilt("images", "List, build, pull, save and load the lab's images", "the offline image builder")
}
