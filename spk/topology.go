package spk

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/topology"
)

// FromTopology returns the CRs the lab applies for a topology: an F5SPKVlan
// per TMM VLAN (in the SPK namespace), and per tenant its F5SPKIngressTCP
// and, with a SNAT pool, an F5SPKSnatpool (SPK namespace) and the
// F5SPKEgress using it (tenant namespace). The topology is assumed valid
// (topology.Validate); FromTopology copies, it does not judge.
func FromTopology(t *topology.Topology) *Objects {
	o := &Objects{Routing: ValuesFromTopology(t)}
	for _, v := range t.TMM.VLANs {
		o.VLANs = append(o.VLANs, vlanFor(t, v))
	}
	for _, tn := range t.Tenants {
		if ing := tn.Ingress; ing != nil {
			o.Ingresses = append(o.Ingresses, F5SPKIngressTCP{
				TypeMeta:   typeMeta(APIVersionIngressTCP, KindIngressTCP),
				ObjectMeta: labelledMeta(ing.Name, tn.Namespace),
				Service:    ServiceRef{Name: tn.Service.Name, Port: int32(tn.Service.Port)},
				Spec: F5SPKIngressTCPSpec{
					DestinationAddress:     ing.IPv4,
					DestinationPort:        int32(ing.Port),
					IPv6DestinationAddress: ing.IPv6,
					IdleTimeout:            int64(ing.IdleTimeout),
					LoadBalancingMethod:    LoadBalancingMethod(ing.LoadBalancingMethod),
					SNAT:                   SNATAutomap,
				},
			})
		}
		sp := tn.SNATPool
		if sp == nil {
			continue
		}
		rows := make([][]string, 0, len(sp.Rows))
		dualStack := false
		for _, r := range sp.Rows {
			rows = append(rows, append([]string(nil), r...))
			for _, s := range r {
				if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
					dualStack = true
				}
			}
		}
		o.Snatpools = append(o.Snatpools, F5SPKSnatpool{
			TypeMeta:   typeMeta(APIVersionSnatpool, KindSnatpool),
			ObjectMeta: labelledMeta(sp.Name, t.SPK.Namespace),
			Spec:       F5SPKSnatpoolSpec{Name: sp.Name, AddressList: rows},
		})
		egressMeta := labelledMeta(tn.Namespace+"-egress", tn.Namespace)
		egressMeta.Annotations = map[string]string{AnnotationVXLANKey: strconv.Itoa(tn.VXLANKey)}
		o.Egresses = append(o.Egresses, F5SPKEgress{
			TypeMeta:   typeMeta(APIVersionEgress, KindEgress),
			ObjectMeta: egressMeta,
			Spec: F5SPKEgressSpec{
				EgressSnatpool:   sp.Name,
				SNATType:         SNATPool,
				DualStackEnabled: dualStack,
				MaxTmmReplicas:   int32(t.TMM.Replicas),
			},
		})
	}
	return o
}

func vlanFor(t *topology.Topology, v topology.VLAN) F5SPKVlan {
	spec := F5SPKVlanSpec{
		Name:       v.Name,
		Tag:        int32(v.Tag),
		Interfaces: []string{v.Interface},
		MTU:        int32(v.MTU),
		Internal:   v.Internal,
	}
	for _, s := range v.SelfIPs {
		if s.IPv4 != "" {
			spec.SelfIPv4s = append(spec.SelfIPv4s, s.IPv4)
		}
		if s.IPv6 != "" {
			spec.SelfIPv6s = append(spec.SelfIPv6s, s.IPv6)
		}
	}
	v4, v6 := t.VLANSubnets(v)
	if v4.IsValid() && len(spec.SelfIPv4s) > 0 {
		spec.PrefixLenV4 = int32(v4.Bits())
	}
	if v6.IsValid() && len(spec.SelfIPv6s) > 0 {
		spec.PrefixLenV6 = int32(v6.Bits())
	}
	return F5SPKVlan{
		TypeMeta:   typeMeta(APIVersionVLAN, KindVLAN),
		ObjectMeta: labelledMeta("vlan-"+v.Name, t.SPK.Namespace),
		Spec:       spec,
	}
}

func labelledMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: namespace,
		Labels:    map[string]string{LabelManagedBy: ManagedBySPKLab},
	}
}

// YAML writes the objects as one multi-document stream of CR files, in the
// order they are applied: VLANs, snatpools, egresses, ingresses, static
// routes, static endpoints, then static nodes. Only what a CR file holds is written (apiVersion, kind, name,
// namespace, labels, annotations, spec): status is the controller's.
func (o *Objects) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	docs := 0
	encode := func(h header, v any) error {
		docs++
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encoding %s %s: %w", h.Kind, h.Metadata.Name, err)
		}
		return nil
	}
	for i := range o.VLANs {
		v := &o.VLANs[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[F5SPKVlan]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Snatpools {
		v := &o.Snatpools[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[F5SPKSnatpool]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Egresses {
		v := &o.Egresses[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[F5SPKEgress]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Ingresses {
		v := &o.Ingresses[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[F5SPKIngressTCP]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Routes {
		v := &o.Routes[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[F5SPKStaticRoute]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Endpoints {
		v := &o.Endpoints[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[StaticEndpoints]{h, v}); err != nil {
			return nil, err
		}
	}
	for i := range o.Nodes {
		v := &o.Nodes[i]
		h := headerOf(v.TypeMeta, v.ObjectMeta)
		if err := encode(h, document[StaticNodes]{h, v}); err != nil {
			return nil, err
		}
	}
	if docs == 0 {
		return nil, nil // an encoder closed before any document fails
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding CRs: %w", err)
	}
	return buf.Bytes(), nil
}
