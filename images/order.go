package images

import (
	"fmt"
	"strings"
)

// index checks a catalog and indexes it by name.
func index(imgs []Image) (map[string]Image, error) {
	byName := make(map[string]Image, len(imgs))
	for _, img := range imgs {
		if err := img.check(); err != nil {
			return nil, err
		}
		if _, dup := byName[img.Name]; dup {
			return nil, fmt.Errorf("image %s is in the catalog twice", img.Name)
		}
		byName[img.Name] = img
	}
	for _, img := range imgs {
		for _, n := range img.Needs {
			if _, ok := byName[n]; !ok {
				return nil, fmt.Errorf("image %s needs %s, which is not in the catalog", img.Name, n)
			}
		}
	}
	return byName, nil
}

// Order returns the images named (all when names is empty) and every image
// they need, each after what it needs, otherwise in catalog order. Unknown
// names and dependency cycles are errors.
func Order(imgs []Image, names []string) ([]Image, error) {
	byName, err := index(imgs)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		for _, img := range imgs {
			names = append(names, img.Name)
		}
	}
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("no image named %q (known: %s)", n, strings.Join(Names(imgs), ", "))
		}
	}
	wanted := map[string]bool{}
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch mark[n] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("images need each other: %s", strings.Join(append(path, n), " → "))
		}
		mark[n] = visiting
		for _, dep := range byName[n].Needs {
			if err := visit(dep, append(path, n)); err != nil {
				return err
			}
		}
		mark[n] = done
		wanted[n] = true
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	// Catalog order, then repeatedly place what has its needs placed: stable
	// and dependency-first.
	var out []Image
	placed := map[string]bool{}
	for len(out) < len(wanted) {
		progress := false
		for _, img := range imgs {
			if !wanted[img.Name] || placed[img.Name] {
				continue
			}
			ready := true
			for _, dep := range img.Needs {
				ready = ready && placed[dep]
			}
			if ready {
				out, placed[img.Name], progress = append(out, img), true, true
			}
		}
		if !progress {
			return nil, fmt.Errorf("cannot order images %v", names) // unreachable after the cycle check
		}
	}
	return out, nil
}

// Names returns the catalog names, in order.
func Names(imgs []Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.Name
	}
	return out
}
