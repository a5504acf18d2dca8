// Package images is the lab's offline image framework: every image the lab
// runs is an Image that says what its build reads (Inputs, a hash) and how
// to build it from Debian packages and Go module sources (Build). A built
// image carries the labels io.spklab.image=<Name> and
// io.spklab.inputs=<hash>, so the daemon itself records whether an image is
// present and current; nothing else is stored.
package images

import (
	"context"
	"fmt"
)

// Labels every image built by the lab carries.
const (
	LabelImage  = "io.spklab.image"  // the catalog name
	LabelInputs = "io.spklab.inputs" // the hash of everything the build read
)

// Image is one image the lab needs.
type Image struct {
	// Name is the catalog name ("debian", "frr", "kind-node", "calico-node", …).
	Name string
	// Ref is the name:tag the lab runs: upstream's where manifests pin one
	// (e.g. "docker.io/calico/node:v3.30.1"), else "spklab/<name>:<tag>".
	Ref string
	// Purpose says in a few words what the lab uses it for.
	Purpose string
	// Pull is the reference a registry would serve; "" means build only.
	Pull string
	// Needs are the catalog names of images this one is built FROM; they
	// are built first, and their hashes are folded into this one's (so a
	// new base makes every image on it stale).
	Needs []string
	// Compiles names the Go module whose packages hashing or building this
	// image compiles ("" for none). Images naming the same module take
	// turns: Go's build cache does not share work between two builds
	// running at once, so the second would compile every package again
	// beside the first instead of finding it cached.
	Compiles string
	// Inputs returns a hash of everything the build reads that is not a
	// needed image: Dockerfile text, package lists, module versions, build
	// flags, hashes of binaries copied in. Cheap to call (it runs on every
	// `spklab images list`); use Hash to make it.
	Inputs func(ctx context.Context) (string, error)
	// Build makes the image tagged Ref through the Builder, which adds the
	// labels. Needs are present and current when it runs.
	Build func(ctx context.Context, b *Builder) error
}

// HowObtained says how the image can be had: "pull|build" when a registry
// could serve it (and spklab builds it offline too), else "build".
func (img Image) HowObtained() string {
	if img.Pull != "" {
		return "pull|build"
	}
	return "build"
}

func (img Image) check() error {
	switch {
	case img.Name == "":
		return fmt.Errorf("image with ref %q has no name", img.Ref)
	case img.Ref == "":
		return fmt.Errorf("image %s has no ref", img.Name)
	case img.Inputs == nil:
		return fmt.Errorf("image %s has no Inputs", img.Name)
	case img.Build == nil:
		return fmt.Errorf("image %s has no Build", img.Name)
	}
	return nil
}
