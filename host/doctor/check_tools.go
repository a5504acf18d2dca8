package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/spklab/spklab/host/hosttools"
)

// checkTools looks for the programs the netns lab and the benchmark run on
// the host (the kind lab runs them in its containers instead). A missing
// one warns rather than fails: the kind lab does not need them, and
// `spklab up --runtime netns` and `spklab bench` refuse with the same
// package names.
func checkTools(_ context.Context, _ *host) Result {
	all := hosttools.Bench()
	missing := hosttools.Missing(all)
	if len(missing) == 0 {
		return Result{Status: StatusOK, Finding: fmt.Sprintf("all %d programs of the netns lab and the benchmark are installed (%s)",
			len(all), strings.Join(hosttools.Packages(all), ", "))}
	}
	var names []string
	for _, t := range missing {
		names = append(names, fmt.Sprintf("%s (%s)", t.Program, t.Package))
	}
	var whys []string
	for _, t := range missing {
		whys = append(whys, t.Program+" is for "+t.Why)
	}
	return Result{
		Status:      StatusWarn,
		Finding:     "missing: " + strings.Join(names, ", "),
		Explanation: "The netns lab (spklab up --runtime netns) and spklab bench run these on the host and refuse to start without them; the kind lab does not need them. " + strings.Join(whys, "; ") + ".",
		Fix:         "apt-get install " + strings.Join(hosttools.Packages(missing), " "),
	}
}
