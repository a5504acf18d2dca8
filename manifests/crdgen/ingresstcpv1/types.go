// Package ingresstcpv1 is controller-gen input for the
// ingresstcp.k8s.f5net.com/v1 kind F5SPKIngressTCP (see package crdgen).
// +groupName=ingresstcp.k8s.f5net.com
// +versionName=v1
package ingresstcpv1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/spk"
)

// F5SPKIngressTCP is a TCP virtual server on TMM whose pool is the ready
// endpoints of a Service. service sits beside spec, as in F5's CRD.
// +kubebuilder:resource:path=f5-spk-ingresstcps,singular=f5-spk-ingresstcp,shortName=spkingresstcp,categories=spk
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="VIP",type=string,JSONPath=`.spec.destinationAddress`
// +kubebuilder:printcolumn:name="VIPv6",type=string,JSONPath=`.spec.ipv6destinationAddress`
// +kubebuilder:printcolumn:name="Port",type=integer,JSONPath=`.spec.destinationPort`
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.service.name`,priority=1
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type F5SPKIngressTCP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Service spk.ServiceRef          `json:"service"`
	Spec    spk.F5SPKIngressTCPSpec `json:"spec"`
	Status  spk.Status              `json:"status,omitempty"`
}
