package topology

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a topology: where (a path such as
// "networks[external-net].ipv4Subnet") and why.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.Path + ": " + p.Reason }

// Problems is every problem found at once; as an error it reads one
// "path: reason" per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problemList collects problems in the order they are found.
type problemList struct{ list Problems }

func (l *problemList) add(path, format string, args ...any) {
	l.list = append(l.list, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// itemPath names a list element by its name when it has one, else by index:
// networks[external-net], networks[2].
func itemPath(list string, index int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", list, index)
	}
	return fmt.Sprintf("%s[%s]", list, name)
}
