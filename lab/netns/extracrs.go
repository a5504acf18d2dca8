package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spklab/spklab/spk"
)

// ExtraCRFile holds the CRs of Options.ExtraCRs in the CR directory.
const ExtraCRFile = "extra.yaml"

// ExtraCRsFunc returns CRs to add to the lab's own (e.g. a benchmark's
// virtual server). It is given the lab's objects: the topology's CRs, the
// pods as StaticEndpoints and the router's static routes.
type ExtraCRsFunc func(lab *spk.Objects) (*spk.Objects, error)

// labObjects returns the lab's own objects (base and extra, as crObjects
// does) and those Options.ExtraCRs adds (nil without the hook), checked
// together so that a bad addition fails New, not a TMM at start-up.
func labObjects(l *Lab) (all, added *spk.Objects, err error) {
	base, extra, err := crObjects(l.topo, l.plan.pods, l.plan.staticRouting)
	if err != nil {
		return nil, nil, err
	}
	all = mergeObjects(base, extra)
	if l.opts.ExtraCRs == nil {
		return all, nil, nil
	}
	added, err = l.opts.ExtraCRs(mergeObjects(all))
	if err != nil {
		return nil, nil, fmt.Errorf("extra CRs: %w", err)
	}
	if added == nil {
		return all, nil, nil
	}
	all = mergeObjects(all, added)
	if ps := all.Check(); ps != nil {
		return nil, nil, fmt.Errorf("the lab's CRs with the extra CRs do not check:\n%w", ps)
	}
	return all, added, nil
}

// mergeObjects returns one set holding copies of the slices of every set.
func mergeObjects(sets ...*spk.Objects) *spk.Objects {
	out := &spk.Objects{}
	for _, s := range sets {
		if s == nil {
			continue
		}
		out.VLANs = append(out.VLANs, s.VLANs...)
		out.Ingresses = append(out.Ingresses, s.Ingresses...)
		out.Snatpools = append(out.Snatpools, s.Snatpools...)
		out.Egresses = append(out.Egresses, s.Egresses...)
		out.Routes = append(out.Routes, s.Routes...)
		out.Endpoints = append(out.Endpoints, s.Endpoints...)
		out.Nodes = append(out.Nodes, s.Nodes...)
		if s.Routing != nil {
			out.Routing = s.Routing
		}
	}
	return out
}

// writeExtraCRs writes (or, without extra CRs, removes) ExtraCRFile.
func (l *Lab) writeExtraCRs() error {
	path := filepath.Join(l.CRDir(), ExtraCRFile)
	if l.extra == nil {
		return removeIfExists(path)
	}
	data, err := l.extra.YAML()
	if err != nil {
		return fmt.Errorf("encoding %s: %w", ExtraCRFile, err)
	}
	return writeIfChanged(path, data)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
