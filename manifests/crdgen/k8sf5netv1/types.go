// Package k8sf5netv1 is controller-gen input for the k8s.f5net.com/v1
// kinds: F5SPKVlan, F5SPKSnatpool and F5SPKStaticRoute (see package crdgen).
// +groupName=k8s.f5net.com
// +versionName=v1
package k8sf5netv1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/spk"
)

// F5SPKVlan configures one TMM VLAN: its 802.1Q tag, the TMM interfaces it
// is on, and one self IP per TMM replica (element i of selfip_v4s and
// selfip_v6s is replica i's).
// +kubebuilder:resource:path=f5-spk-vlans,singular=f5-spk-vlan,shortName=spkvlan,categories=spk
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="VLAN",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Tag",type=integer,JSONPath=`.spec.tag`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.spec.interfaces`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type F5SPKVlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   spk.F5SPKVlanSpec `json:"spec"`
	Status spk.Status        `json:"status,omitempty"`
}

// F5SPKSnatpool is a SNAT pool: row i of addressList holds TMM replica i's
// addresses. F5SPKEgress refers to it by spec.name.
// +kubebuilder:resource:path=f5-spk-snatpools,singular=f5-spk-snatpool,shortName=spksnatpool,categories=spk
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Pool",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type F5SPKSnatpool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   spk.F5SPKSnatpoolSpec `json:"spec"`
	Status spk.Status            `json:"status,omitempty"`
}

// F5SPKStaticRoute is a static route in TMM's routing table.
// +kubebuilder:resource:path=f5-spk-staticroutes,singular=f5-spk-staticroute,shortName=spkroute,categories=spk
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destination`
// +kubebuilder:printcolumn:name="Length",type=integer,JSONPath=`.spec.prefixLen`
// +kubebuilder:printcolumn:name="Gateway",type=string,JSONPath=`.spec.gateway`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Programmed",type=string,JSONPath=`.status.conditions[?(@.type=="Programmed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type F5SPKStaticRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   spk.F5SPKStaticRouteSpec `json:"spec"`
	Status spk.Status               `json:"status,omitempty"`
}
