package topology

import "testing"

func TestBuiltinsAreValid(t *testing.T) {
	for _, name := range Builtins() {
		topo, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if ps := Validate(topo); ps != nil {
			t.Errorf("built-in %s is invalid:\n%v", name, ps)
		}
	}
}
