// Package k8sf5netv2 is controller-gen input for the k8s.f5net.com/v2 kind
// F5SPKEgress (see package crdgen).
// +groupName=k8s.f5net.com
// +versionName=v2
package k8sf5netv2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/spk"
)

// F5SPKEgress translates the sources of pod traffic leaving the cluster
// (in spklab, its namespace's pods), optionally with NAT64 and DNS46.
// +kubebuilder:resource:path=f5-spk-egresses,singular=f5-spk-egress,shortName=spkegress,categories=spk
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Snatpool",type=string,JSONPath=`.spec.egressSnatpool`
// +kubebuilder:printcolumn:name="SNAT",type=string,JSONPath=`.spec.snatType`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type F5SPKEgress struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   spk.F5SPKEgressSpec `json:"spec"`
	Status spk.Status          `json:"status,omitempty"`
}
