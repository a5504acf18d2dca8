package spk

import (
	"fmt"

	"github.com/spklab/spklab/dataplane/config"
)

// LoadTMMConfig reads and compiles the CR directory (and the values file,
// if any) for one TMM replica: spk-tmm's standalone config. Any problem in any file is an error listing every
// problem as file:path: reason.
func LoadTMMConfig(dir, valuesFile string, replica int) (*config.Config, error) {
	o, err := LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s:\n%w", dir, err)
	}
	if valuesFile != "" {
		if o.Routing, err = LoadValues(valuesFile); err != nil {
			return nil, fmt.Errorf("%s has problems:\n%w", valuesFile, err)
		}
	}
	if ps := o.Check(); ps != nil {
		return nil, fmt.Errorf("%s has problems:\n%w", dir, ps)
	}
	replicas := o.Replicas()
	if replicas == 0 {
		return nil, fmt.Errorf("%s: no F5SPKVlan lists self IPs (selfip_v4s/selfip_v6s), so there is no TMM replica to run", dir)
	}
	if replica < 0 || replica >= replicas {
		return nil, fmt.Errorf("replica %d: the VLANs in %s have self IPs for replicas 0–%d", replica, dir, replicas-1)
	}
	out := Compile(o, replicas)
	if len(out.Problems) > 0 {
		return nil, fmt.Errorf("%s has problems:\n%w", dir, out.Problems)
	}
	return out.Configs[replica], nil
}
