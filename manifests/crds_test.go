package manifests

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/spklab/spklab/spk"
)

// The API server validates a CRD before storing it: structural schema,
// defaults, and every CEL rule compiled with its estimated cost under the
// per-rule and per-CRD limits. Running the same validation here finds a
// too-expensive rule without starting an API server (crd_test.go in spk
// installs them into a real one).
func TestCRDsPassAPIServerValidation(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensions.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		t.Run(crd.Name, func(t *testing.T) {
			v1 := crd.DeepCopy()
			scheme.Default(v1)
			internal := &apiextensions.CustomResourceDefinition{}
			if err := scheme.Convert(v1, internal, nil); err != nil {
				t.Fatal(err)
			}
			if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
				for _, e := range errs {
					t.Error(e)
				}
			}
		})
	}
}

func TestCRDYAMLHoldsEveryFile(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 5 {
		t.Fatalf("%d CRDs, want 5", len(crds))
	}
	all := CRDYAML()
	for _, name := range crdFileNames() {
		if !bytes.Contains(all, readCRDFile(name)) {
			t.Errorf("CRDYAML lacks %s", name)
		}
	}
	if n := bytes.Count(all, []byte("\nkind: CustomResourceDefinition\n")); n != len(crds) {
		t.Errorf("CRDYAML has %d CRD documents, want %d", n, len(crds))
	}
	if !slices.IsSorted(crdFileNames()) {
		t.Errorf("files not in name order: %v", crdFileNames())
	}
}

// Each kind spk registers has exactly one CRD, with the names the chart's
// RBAC and the controller use, a status subresource, printer columns for
// the conditions, and the single version that GroupVersion says.
func TestCRDsMatchSPKKinds(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, c := range crds {
		byName[c.Name] = c
	}
	kinds := spk.APIKinds()
	if len(crds) != len(kinds) {
		t.Errorf("%d CRDs for %d kinds", len(crds), len(kinds))
	}
	for _, k := range kinds {
		gvk := k.GroupVersionKind
		c := byName[k.CRDName()]
		if c == nil {
			t.Errorf("no CRD %s for %s", k.CRDName(), gvk)
			continue
		}
		s := c.Spec
		if s.Group != gvk.Group || s.Names.Kind != gvk.Kind || s.Names.ListKind != gvk.Kind+"List" || s.Names.Plural != k.Resource {
			t.Errorf("%s: group %s kind %s list %s plural %s, want %s %s %sList %s", c.Name, s.Group, s.Names.Kind, s.Names.ListKind, s.Names.Plural, gvk.Group, gvk.Kind, gvk.Kind, k.Resource)
		}
		if !strings.HasPrefix(k.Resource, s.Names.Singular) || s.Names.Singular == k.Resource {
			t.Errorf("%s: singular %q is not the singular of %q", c.Name, s.Names.Singular, k.Resource)
		}
		if s.Scope != apiextensionsv1.NamespaceScoped {
			t.Errorf("%s: scope %s", c.Name, s.Scope)
		}
		if !slices.Contains(s.Names.Categories, "spk") {
			t.Errorf("%s: categories %v lack spk", c.Name, s.Names.Categories)
		}
		if len(s.Versions) != 1 {
			t.Errorf("%s: %d versions, want 1", c.Name, len(s.Versions))
			continue
		}
		v := s.Versions[0]
		if v.Name != gvk.Version || !v.Served || !v.Storage {
			t.Errorf("%s: version %s served %v storage %v, want %s served and stored", c.Name, v.Name, v.Served, v.Storage, gvk.Version)
		}
		if v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: no status subresource", c.Name)
		}
		var cols []string
		for _, col := range v.AdditionalPrinterColumns {
			cols = append(cols, col.Name)
		}
		for _, want := range []string{"Accepted", "Programmed", "Age"} {
			if !slices.Contains(cols, want) {
				t.Errorf("%s: printer columns %v lack %s", c.Name, cols, want)
			}
		}
	}
}
