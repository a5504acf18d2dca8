package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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

var (
	yamlLine         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknownField = regexp.MustCompile(`^field (\S+) not found in type topology\.(\w+)$`)
	yamlWrongType    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// yamlProblems turns a YAML decoding error into "file:line: reason" problems.
func yamlProblems(name string, err error) Problems {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make(Problems, 0, len(msgs))
	for _, m := range msgs {
		line, reason := "", m
		if g := yamlLine.FindStringSubmatch(strings.TrimSpace(m)); g != nil {
			line, reason = g[1], g[2]
		}
		if g := yamlUnknownField.FindStringSubmatch(reason); g != nil {
			reason = fmt.Sprintf("unknown field %q (%s)", g[1], fieldsOf(g[2]))
		} else if g := yamlWrongType.FindStringSubmatch(reason); g != nil {
			reason = fmt.Sprintf("%q is a %s where %s is expected", g[2], yamlKind(g[1]), goKind(g[3]))
		}
		path := name
		if line != "" {
			path += ":" + line
		}
		out = append(out, Problem{Path: path, Reason: reason})
	}
	return out
}

// fieldsOf lists the YAML keys a topology type accepts.
func fieldsOf(typeName string) string {
	typ, ok := topologyTypes()[typeName]
	if !ok {
		return "not a field here"
	}
	var keys []string
	for i := 0; i < typ.NumField(); i++ {
		if k, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return "known fields here: " + strings.Join(keys, ", ")
}

// topologyTypes maps the name of every struct type reachable from Topology
// to its type.
func topologyTypes() map[string]reflect.Type {
	types := map[string]reflect.Type{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || types[t.Name()] != nil {
			return
		}
		types[t.Name()] = t
		for i := 0; i < t.NumField(); i++ {
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeOf(Topology{}))
	return types
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	case "seq":
		return "list"
	case "map":
		return "mapping"
	}
	return tag
}

func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
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
