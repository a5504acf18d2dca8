// Package yamlerr turns go.yaml.in/yaml/v3 decode errors into line-numbered,
// plain-words reasons: an unknown field lists the keys accepted where it
// stands, and a value of the wrong type says what was expected.
package yamlerr

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Schema is what Explain needs to know about the Go types a document decodes
// into. Types are named as yaml v3 names them in errors (reflect.Type.String:
// "topology.Cluster", "spk.document[github.com/spklab/spklab/spk.F5SPKVlan]").
type Schema struct {
	// keys maps every struct type to the sorted YAML keys it accepts.
	keys map[string][]string
	// strings holds the named types whose kind is string.
	strings map[string]bool
}

// NewSchema walks every type reachable from roots (through pointers, slices,
// arrays, map values and struct fields) and records the YAML keys of each
// struct type, inline fields expanded and `yaml:"-"` fields skipped, and
// which named types are strings.
func NewSchema(roots ...reflect.Type) Schema {
	s := Schema{keys: map[string][]string{}, strings: map[string]bool{}}
	for _, t := range roots {
		s.walk(t)
	}
	return s
}

func (s Schema) walk(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	name := t.String()
	switch t.Kind() {
	case reflect.String:
		if t.PkgPath() != "" {
			s.strings[name] = true
		}
	case reflect.Struct:
		if _, seen := s.keys[name]; seen {
			return
		}
		s.keys[name] = nil // seen, before its fields are walked
		keys := s.fieldKeys(t)
		sort.Strings(keys)
		s.keys[name] = keys
	}
}

// fieldKeys lists the keys of struct t as yaml v3 reads them, expanding
// inline fields, and walks the types of the others.
func (s Schema) fieldKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		key, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				keys = append(keys, s.fieldKeys(ft)...)
			}
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		keys = append(keys, key)
		s.walk(f.Type)
	}
	return keys
}

// Issue is one problem of a decode error.
type Issue struct {
	// Line is the 1-based line the problem is on; 0 means unknown.
	Line int
	// Reason says what is wrong, in plain words.
	Reason string
	// UnknownField is the key of an unknown-field problem, so callers can
	// add advice about it; empty for other problems.
	UnknownField string
	// Known lists the keys accepted where the unknown field stands (sorted);
	// nil when that type is not in the schema or for other problems.
	Known []string
}

// At names where the issue is in file: "file:line", or file alone when the
// line is unknown.
func (i Issue) At(file string) string {
	if i.Line == 0 {
		return file
	}
	return file + ":" + strconv.Itoa(i.Line)
}

var (
	lineRe         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownFieldRe = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)
	wrongTypeRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+)( `(.*)`)? into (.+)$")
)

// Explain splits a yaml v3 decode error into its problems (a *yaml.TypeError
// holds one per line) and rewords the ones it knows. nil gives nil.
func (s Schema) Explain(err error) []Issue {
	if err == nil {
		return nil
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]Issue, 0, len(msgs))
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		is := Issue{Reason: strings.TrimPrefix(m, "yaml: ")}
		if g := lineRe.FindStringSubmatch(m); g != nil {
			is.Line, _ = strconv.Atoi(g[1])
			is.Reason = g[2]
		}
		if g := unknownFieldRe.FindStringSubmatch(is.Reason); g != nil {
			is.UnknownField = g[1]
			if keys := s.keys[g[2]]; len(keys) > 0 {
				is.Known = slices.Clone(keys)
				is.Reason = fmt.Sprintf("unknown field %q (known fields here: %s)", g[1], strings.Join(keys, ", "))
			} else {
				is.Reason = fmt.Sprintf("unknown field %q", g[1])
			}
		} else if g := wrongTypeRe.FindStringSubmatch(is.Reason); g != nil {
			// yaml quotes the value of a scalar (even an empty one) only.
			yamlTag, scalar, value, goType := g[1], g[2] != "", g[3], g[4]
			want := s.expected(goType)
			switch {
			case yamlTag == "int" && want == "an integer":
				is.Reason = fmt.Sprintf("%q is out of range for an %s", value, goType)
			case scalar:
				is.Reason = fmt.Sprintf("%q is a %s where %s is expected", value, yamlKind(yamlTag), want)
			default:
				is.Reason = fmt.Sprintf("a %s where %s is expected", yamlKind(yamlTag), want)
			}
		}
		out = append(out, is)
	}
	return out
}

// yamlKind names a YAML tag (without its "!!") in plain words.
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

// expected names what a Go type (as yaml v3 names it) takes, in plain words.
func (s Schema) expected(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool":
		return "true or false"
	case goType == "string", s.strings[goType]:
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a mapping"
}
