package yamlerr

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

type color string

type meta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

type head struct {
	Kind string `yaml:"kind"`
	Meta meta   `yaml:"metadata"`
}

type port struct {
	Number int32 `yaml:"number"`
	Proto  string
}

type spec struct {
	Color   color           `yaml:"color"`
	Ports   []port          `yaml:"ports"`
	ByName  map[string]leaf `yaml:"byName"`
	Tree    *tree           `yaml:"tree"`
	Flags   [2]flag         `yaml:"flags"`
	Enabled bool            `yaml:"enabled"`
	Status  string          `yaml:"-"`
	secret  string
}

type leaf struct {
	Weight uint8 `yaml:"weight"`
}

type tree struct {
	Value    string  `yaml:"value"`
	Children []*tree `yaml:"children"`
}

type flag struct {
	On bool `yaml:"on"`
}

type doc[T any] struct {
	head `yaml:",inline"`
	Obj  *T `yaml:",inline"`
}

type body struct {
	Spec spec `yaml:"spec"`
}

func schema() Schema { return NewSchema(reflect.TypeFor[doc[body]]()) }

// decode decodes data strictly into a doc[body], as the callers do.
func decode(t *testing.T, data string) error {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(data)))
	dec.KnownFields(true)
	d := doc[body]{Obj: &body{}}
	err := dec.Decode(&d)
	if err == nil {
		t.Fatalf("decoding %q: want an error", data)
	}
	return err
}

func TestExplain(t *testing.T) {
	cases := []struct {
		name, data string
		want       []Issue
	}{
		{"unknown top-level field, inline fields expanded",
			"kind: x\nspek: {}\n",
			[]Issue{{Line: 2, Reason: `unknown field "spek" (known fields here: kind, metadata, spec)`,
				UnknownField: "spek", Known: []string{"kind", "metadata", "spec"}}}},
		{"unknown nested field, `-` and unexported skipped",
			"spec:\n  status: x\n",
			[]Issue{{Line: 2, Reason: `unknown field "status" (known fields here: byName, color, enabled, flags, ports, tree)`,
				UnknownField: "status", Known: []string{"byName", "color", "enabled", "flags", "ports", "tree"}}}},
		{"untagged field keyed by its lowercased name",
			"spec:\n  ports:\n    - {number: 1, protocol: tcp}\n",
			[]Issue{{Line: 3, Reason: `unknown field "protocol" (known fields here: number, proto)`,
				UnknownField: "protocol", Known: []string{"number", "proto"}}}},
		{"struct behind a map, a pointer and an array",
			"spec:\n  byName: {a: {wieght: 1}}\n  tree: {children: [{valu: x}]}\n  flags: [{on: true}, {of: true}]\n",
			[]Issue{
				{Line: 2, Reason: `unknown field "wieght" (known fields here: weight)`, UnknownField: "wieght", Known: []string{"weight"}},
				{Line: 3, Reason: `unknown field "valu" (known fields here: children, value)`, UnknownField: "valu", Known: []string{"children", "value"}},
				{Line: 4, Reason: `unknown field "of" (known fields here: on)`, UnknownField: "of", Known: []string{"on"}},
			}},
		{"string where an integer is expected",
			"spec:\n  ports: [{number: two}]\n",
			[]Issue{{Line: 2, Reason: `"two" is a string where an integer is expected`}}},
		{"empty string where true or false is expected",
			"spec:\n  enabled: \"\"\n",
			[]Issue{{Line: 2, Reason: `"" is a string where true or false is expected`}}},
		{"out of range",
			"spec:\n  ports: [{number: 99999999999}]\n  byName: {a: {weight: -1}}\n",
			[]Issue{
				{Line: 2, Reason: `"9999999..." is out of range for an int32`},
				{Line: 3, Reason: `"-1" is out of range for an uint8`},
			}},
		{"list where a string is expected",
			"kind: [a]\n",
			[]Issue{{Line: 1, Reason: `a list where a string is expected`}}},
		{"mapping where a named string type is expected",
			"spec:\n  color: {r: 1}\n",
			[]Issue{{Line: 2, Reason: `a mapping where a string is expected`}}},
		{"boolean",
			"spec:\n  enabled: 3\n",
			[]Issue{{Line: 2, Reason: `"3" is a number where true or false is expected`}}},
		{"list",
			"spec:\n  ports: x\n",
			[]Issue{{Line: 2, Reason: "\"x\" is a string where a list is expected"}}},
		{"mapping",
			"spec: [1]\n",
			[]Issue{{Line: 1, Reason: `a list where a mapping is expected`}}},
		{"error without a line",
			"spec:\n  flags: [{on: true}]\n",
			[]Issue{{Reason: `invalid array: want 2 elements but got 1`}}},
		{"syntax error with a line",
			"spec: [\n",
			[]Issue{{Line: 1, Reason: `did not find expected node content`}}},
		{"another error without a line",
			"kind: *nope\n",
			[]Issue{{Reason: `unknown anchor 'nope' referenced`}}},
	}
	s := schema()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.Explain(decode(t, c.data))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n  %+v\nwant\n  %+v", got, c.want)
			}
		})
	}
}

// The keys are found under the type name yaml prints, generic ones too.
func TestSchemaNamesTypesAsYAMLDoes(t *testing.T) {
	err := decode(t, "nope: 1\n")
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) != 1 {
		t.Fatalf("want one type error, got %v", err)
	}
	name := reflect.TypeFor[doc[body]]().String()
	if want := "line 1: field nope not found in type " + name; te.Errors[0] != want {
		t.Fatalf("yaml says %q, want %q", te.Errors[0], want)
	}
	s := schema()
	if got := s.keys[name]; !slices.Equal(got, []string{"kind", "metadata", "spec"}) {
		t.Errorf("keys of %s = %v", name, got)
	}
	if !s.strings["yamlerr.color"] || s.strings["string"] {
		t.Errorf("string types = %v, want yamlerr.color only", s.strings)
	}
}

// A type outside the schema still gives a plain reason.
func TestExplainUnknownType(t *testing.T) {
	got := NewSchema().Explain(decode(t, "spec:\n  x: 1\n"))
	want := []Issue{{Line: 2, Reason: `unknown field "x"`, UnknownField: "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got = NewSchema().Explain(decode(t, "spec:\n  color: [x]\n"))
	want = []Issue{{Line: 2, Reason: `a list where a mapping is expected`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("named string type outside the schema: got %+v, want %+v", got, want)
	}
}

func TestExplainOther(t *testing.T) {
	if got := schema().Explain(nil); got != nil {
		t.Errorf("nil error: got %+v", got)
	}
	got := schema().Explain(errors.New("  something else  "))
	want := []Issue{{Reason: "something else"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestIssueAt(t *testing.T) {
	if got := (Issue{Line: 12}).At("crs/vlan.yaml"); got != "crs/vlan.yaml:12" {
		t.Errorf("with a line: %q", got)
	}
	if got := (Issue{}).At("f.yaml"); got != "f.yaml" {
		t.Errorf("without a line: %q", got)
	}
}
