package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/yamlerr"
)

// Load reads a topology file (spklab.yaml). The file starts from the
// built-in lab its "base" names (default: "default") and overrides any field
// it sets; a list it sets replaces the built-in list whole. Unknown fields
// are errors with their line. Load does not validate: call Validate.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for bytes already read; name is used in error messages.
// Errors are Problems whose paths are "name:line".
func Parse(name string, data []byte) (*Topology, error) {
	var head struct {
		Base string `yaml:"base"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, yamlProblems(name, err)
	}
	t, err := Builtin(head.Base)
	if err != nil {
		return nil, Problems{{Path: name + ":" + strconv.Itoa(lineOfKey(data, "base")), Reason: "base: " + err.Error()}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(t); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlProblems(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Problems{{Path: name, Reason: "holds more than one YAML document; a topology is one document"}}
	}
	t.Base = head.Base
	if t.Base == "" {
		t.Base = BuiltinDefault
	}
	t.fillFieldDefaults()
	return t, nil
}

// yamlProblems turns a YAML decoding error into "file:line: reason" problems.
func yamlProblems(name string, err error) Problems {
	issues := yamlerr.NewSchema(reflect.TypeFor[Topology]()).Explain(err)
	out := make(Problems, 0, len(issues))
	for _, is := range issues {
		out = append(out, Problem{Path: is.At(name), Reason: is.Reason})
	}
	return out
}

// lineOfKey returns the 1-based line of a top-level key, or 1.
func lineOfKey(data []byte, key string) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 1
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 1
}
