package spk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/internal/yamlerr"
	"github.com/spklab/spklab/topology"
)

// Problem and Problems are the topology's "path: reason" problems; here the
// path starts with the file ("crs/vlan.yaml:spec.tag", "crs/vlan.yaml:12").
type (
	Problem  = topology.Problem
	Problems = topology.Problems
)

// LoadDir loads every *.yaml and *.yml file of dir (sorted by name, not
// recursive). Errors in the files are Problems, every one of every file.
// LoadDir does not check the objects: call Check.
func LoadDir(dir string) (*Objects, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CR directory: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || !isYAMLName(e.Name()) {
			continue
		}
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	sort.Strings(paths)
	return LoadFiles(paths...)
}

func isYAMLName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// LoadFiles loads the given CR files in order; see LoadDir.
func LoadFiles(paths ...string) (*Objects, error) {
	o := &Objects{}
	var ps Problems
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			ps = append(ps, Problem{Path: p, Reason: "cannot be read: " + err.Error()})
			continue
		}
		ps = append(ps, o.parse(p, data)...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return o, nil
}

// Parse decodes a stream of CR documents ("---"-separated) already read;
// name is the file name used in problems.
func Parse(name string, data []byte) (*Objects, error) {
	o := &Objects{}
	if ps := o.parse(name, data); len(ps) > 0 {
		return nil, ps
	}
	return o, nil
}

// The decoding is strict: unknown fields are errors with their line. yaml v3
// only enforces known fields through a Decoder (yaml.Node.Decode does not),
// so a stream is read twice: first into nodes, to find every document's
// apiVersion and kind, then with a strict Decoder, each document into the
// struct of its kind. Both passes see the same documents in the same order.
func (o *Objects) parse(name string, data []byte) Problems {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return yamlProblems(name, err)
		}
		docs = append(docs, &n)
	}

	// Name documents "file#N" only where a file holds more than one.
	nonEmpty := 0
	for _, d := range docs {
		if !emptyDoc(d) {
			nonEmpty++
		}
	}
	kinds := make([]*kindInfo, len(docs))
	kindProblems := make([]*Problem, len(docs))
	sources := make([]string, len(docs))
	n := 0
	for i, d := range docs {
		if emptyDoc(d) {
			continue
		}
		n++
		sources[i] = name
		if nonEmpty > 1 {
			sources[i] = fmt.Sprintf("%s#%d", name, n)
		}
		kinds[i], kindProblems[i] = lookupKind(name, d)
	}

	var ps Problems
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	for i := range docs {
		if kindProblems[i] != nil {
			ps = append(ps, *kindProblems[i]) // in document order
		}
		var err error
		if kinds[i] == nil {
			var skip yaml.Node
			err = dec.Decode(&skip)
		} else {
			err = kinds[i].decode(dec, o, sources[i])
		}
		if err != nil {
			ps = append(ps, yamlProblems(name, err)...)
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				break // the decoder cannot go on after anything but type errors
			}
		}
	}
	return ps
}

// emptyDoc reports a document with nothing in it (only comments, or a
// stray "---"); kubectl skips those too.
func emptyDoc(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	c := d.Content[0]
	return c.Kind == yaml.ScalarNode && c.Tag == "!!null"
}

// kindInfo is one supported apiVersion+kind and how to decode it.
type kindInfo struct {
	apiVersion, kind string
	decode           func(dec *yaml.Decoder, o *Objects, source string) error
}

// supportedKinds is a function, not a table variable, so no package state is
// mutable.
func supportedKinds() []kindInfo {
	return []kindInfo{
		{APIVersionVLAN, KindVLAN, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v F5SPKVlan
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.VLANs = append(o.VLANs, v)
			return err
		}},
		{APIVersionIngressTCP, KindIngressTCP, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v F5SPKIngressTCP
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Ingresses = append(o.Ingresses, v)
			return err
		}},
		{APIVersionSnatpool, KindSnatpool, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v F5SPKSnatpool
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Snatpools = append(o.Snatpools, v)
			return err
		}},
		{APIVersionEgress, KindEgress, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v F5SPKEgress
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Egresses = append(o.Egresses, v)
			return err
		}},
		{APIVersionStaticRoute, KindStaticRoute, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v F5SPKStaticRoute
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Routes = append(o.Routes, v)
			return err
		}},
		{APIVersionStaticEndpoints, KindStaticEndpoints, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v StaticEndpoints
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Endpoints = append(o.Endpoints, v)
			return err
		}},
		{APIVersionStaticNodes, KindStaticNodes, func(dec *yaml.Decoder, o *Objects, src string) error {
			var v StaticNodes
			h, err := decodeDoc(dec, &v)
			v.TypeMeta, v.ObjectMeta, v.Source = h.typeMeta(), h.objectMeta(), src
			o.Nodes = append(o.Nodes, v)
			return err
		}},
	}
}

func supportedList() string {
	var s []string
	for _, k := range supportedKinds() {
		s = append(s, k.apiVersion+" "+k.kind)
	}
	return strings.Join(s, ", ")
}

// lookupKind finds the kind of a document from its apiVersion and kind, or
// says why it cannot.
func lookupKind(file string, d *yaml.Node) (*kindInfo, *Problem) {
	m := d.Content[0]
	at := func(line int, format string, args ...any) *Problem {
		return &Problem{Path: file + ":" + strconv.Itoa(line), Reason: fmt.Sprintf(format, args...)}
	}
	if m.Kind != yaml.MappingNode {
		return nil, at(m.Line, "a CR document must be a mapping with apiVersion and kind, not a %s", nodeKind(m))
	}
	var apiVersion, kind string
	var haveAPI, haveKind bool
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		switch key.Value {
		case "apiVersion", "kind":
			if val.Kind != yaml.ScalarNode {
				return nil, at(val.Line, "%s must be a string, not a %s", key.Value, nodeKind(val))
			}
			if key.Value == "kind" {
				kind, haveKind = val.Value, true
			} else {
				apiVersion, haveAPI = val.Value, true
			}
		}
	}
	switch {
	case !haveAPI && !haveKind:
		return nil, at(m.Line, "missing apiVersion and kind (supported: %s)", supportedList())
	case !haveAPI:
		return nil, at(m.Line, "missing apiVersion (supported: %s)", supportedList())
	case !haveKind:
		return nil, at(m.Line, "missing kind (supported: %s)", supportedList())
	}
	for _, k := range supportedKinds() {
		if k.apiVersion == apiVersion && k.kind == kind {
			return &k, nil
		}
	}
	return nil, at(m.Line, "unknown apiVersion %q kind %q (supported: %s)", apiVersion, kind, supportedList())
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

// header is what every document has besides its kind's own fields. ObjectMeta
// has no yaml tags and dozens of server-set fields, so files get the few that
// belong in a CR file, strictly, and they are copied into TypeMeta/ObjectMeta.
type header struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	// CreationTimestamp, as the API server shows it, is an object's age:
	// of two files' objects claiming one thing the older keeps it (Older).
	CreationTimestamp fileTime `yaml:"creationTimestamp,omitempty"`
}

// fileTime is a creationTimestamp in a CR file: RFC 3339, as the API
// server writes it.
type fileTime struct{ time.Time }

func (t *fileTime) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a time like 2026-12-07T20:00:00Z (RFC 3339)", n.Line, n.Value)}}
	}
	t.Time = v
	return nil
}

func (t fileTime) MarshalYAML() (any, error) { return t.UTC().Format(time.RFC3339), nil }

func (h header) typeMeta() metav1.TypeMeta { return typeMeta(h.APIVersion, h.Kind) }

func (h header) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              h.Metadata.Name,
		Namespace:         h.Metadata.Namespace,
		Labels:            h.Metadata.Labels,
		Annotations:       h.Metadata.Annotations,
		CreationTimestamp: metav1.NewTime(h.Metadata.CreationTimestamp.Time),
	}
}

func headerOf(tm metav1.TypeMeta, om metav1.ObjectMeta) header {
	return header{APIVersion: tm.APIVersion, Kind: tm.Kind, Metadata: objectMeta{
		Name: om.Name, Namespace: om.Namespace, Labels: om.Labels, Annotations: om.Annotations,
		CreationTimestamp: fileTime{om.CreationTimestamp.Time},
	}}
}

// document is a CR file document: the header, then the kind's own fields
// (yaml tags of T; TypeMeta, ObjectMeta and Status are yaml:"-").
type document[T any] struct {
	header `yaml:",inline"`
	Object *T `yaml:",inline"`
}

func decodeDoc[T any](dec *yaml.Decoder, obj *T) (header, error) {
	d := document[T]{Object: obj}
	err := dec.Decode(&d)
	return d.header, err
}

// yamlProblems turns a YAML error into "file:line: reason" problems.
func yamlProblems(name string, err error) Problems {
	issues := yamlerr.NewSchema(
		reflect.TypeFor[document[F5SPKVlan]](), reflect.TypeFor[document[F5SPKIngressTCP]](),
		reflect.TypeFor[document[F5SPKSnatpool]](), reflect.TypeFor[document[F5SPKEgress]](),
		reflect.TypeFor[document[F5SPKStaticRoute]](), reflect.TypeFor[document[StaticEndpoints]](),
		reflect.TypeFor[document[StaticNodes]](),
	).Explain(err)
	out := make(Problems, 0, len(issues))
	for _, is := range issues {
		reason := is.Reason
		if is.UnknownField == "status" && slices.Contains(is.Known, "apiVersion") {
			reason += "; status is written by the controller, not read from CR files"
		}
		out = append(out, Problem{Path: is.At(name), Reason: reason})
	}
	return out
}
