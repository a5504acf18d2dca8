package spk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTMMConfigErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("vlan.yaml", "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata: {name: v}\nspec: {name: ext, tag: 5000, interfaces: [\"1.1\"]}\n")
	_, err := LoadTMMConfig(dir, "", 0)
	if err == nil || !strings.Contains(err.Error(), "vlan.yaml:spec.tag: 5000 is out of range") {
		t.Fatalf("err = %v", err)
	}
	write("vlan.yaml", "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata: {name: v}\nspec: {name: ext, tag: 0, interfaces: [\"1.1\"]}\n")
	if _, err := LoadTMMConfig(dir, "", 0); err == nil || !strings.Contains(err.Error(), "no F5SPKVlan lists self IPs") {
		t.Fatalf("err = %v", err)
	}
	write("vlan.yaml", "apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata: {name: v}\nspec: {name: ext, tag: 0, interfaces: [\"1.1\"], selfip_v4s: [192.0.2.201], prefixlen_v4: 24}\n")
	if _, err := LoadTMMConfig(dir, "", 1); err == nil || !strings.Contains(err.Error(), "replica 1: the VLANs in") {
		t.Fatalf("err = %v", err)
	}
	cfg, err := LoadTMMConfig(dir, "", 0)
	if err != nil || len(cfg.VLANs) != 1 || cfg.VLANs[0].SelfIPs[0].String() != "192.0.2.201/24" {
		t.Fatalf("cfg %+v err %v", cfg, err)
	}

	// BGP from a values file: its problems name the values file.
	values := filepath.Join(t.TempDir(), "values.yaml")
	writeValues := func(neighbor string) {
		doc := "tmm:\n  dynamicRouting:\n    enabled: true\n    tmmRouting:\n      config:\n        bgp:\n          asn: 64443\n          neighbors:\n          - {ip: " + neighbor + ", asn: 65500, acceptsIPv4: true}\n"
		if err := os.WriteFile(values, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeValues("203.0.113.9")
	if _, err := LoadTMMConfig(dir, values, 0); err == nil || !strings.Contains(err.Error(), values+":tmm.dynamicRouting.tmmRouting.config.bgp.neighbors[0]: 203.0.113.9 is on no VLAN subnet") {
		t.Fatalf("err = %v", err)
	}
	writeValues("192.0.2.250")
	cfg, err = LoadTMMConfig(dir, values, 0)
	if err != nil || cfg.BGP == nil || cfg.BGP.RouterID.String() != "192.0.2.201" || cfg.BGP.Neighbors[0].VLAN != "ext" {
		t.Fatalf("cfg.BGP %+v err %v", cfg.BGP, err)
	}
}
