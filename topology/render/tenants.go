package render

import (
	"bytes"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spklab/spklab/topology"
)

// LabelApp selects a tenant's pods (the Service's selector).
const LabelApp = "app"

// appPort is where the app image's nginx listens.
const appPort = 80

// TenantObjects are each tenant's Namespace, Deployment (the app image:
// nginx answering / with its pod name and /txt with the caller's address,
// curl for egress checks) and the Service in front of it, in apply order.
func TenantObjects(t *topology.Topology) []any {
	var out []any
	for _, tn := range t.Tenants {
		labels := map[string]string{LabelLab: t.Cluster.Name}
		podLabels := map[string]string{LabelApp: tn.Deployment}
		replicas := int32(tn.Replicas)
		out = append(out,
			&corev1.Namespace{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: tn.Namespace, Labels: labels},
			},
			&appsv1.Deployment{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: tn.Deployment, Namespace: tn.Namespace, Labels: labels},
				Spec: appsv1.DeploymentSpec{
					Replicas: &replicas,
					Selector: &metav1.LabelSelector{MatchLabels: podLabels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
						Spec: corev1.PodSpec{
							// Spread over the nodes that run apps, so egress is
							// seen from more than one node.
							TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
								MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
								WhenUnsatisfiable: corev1.ScheduleAnyway,
								LabelSelector:     &metav1.LabelSelector{MatchLabels: podLabels},
							}},
							TerminationGracePeriodSeconds: ptr(int64(2)),
							Containers: []corev1.Container{{
								Name:            "nginx",
								Image:           t.Images.App,
								ImagePullPolicy: corev1.PullNever,
								Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: appPort}},
								// The app answers "pod <name> node <node>".
								Env: []corev1.EnvVar{{Name: "SPKLAB_NODE", ValueFrom: &corev1.EnvVarSource{
									FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
								ReadinessProbe: &corev1.Probe{
									ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(appPort)}},
									PeriodSeconds: 2,
								},
							}},
						},
					},
				},
			},
			&corev1.Service{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: tn.Service.Name, Namespace: tn.Namespace, Labels: labels},
				Spec: corev1.ServiceSpec{
					Selector: podLabels,
					Ports: []corev1.ServicePort{{
						Name: "http", Port: int32(tn.Service.Port), TargetPort: intstr.FromInt32(appPort),
					}},
				},
			},
		)
	}
	return out
}

// TenantsYAML is TenantObjects as a multi-document YAML stream.
func TenantsYAML(t *topology.Topology) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range TenantObjects(t) {
		doc, err := k8sManifestYAML(obj)
		if err != nil {
			return nil, fmt.Errorf("rendering tenant objects: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	return buf.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }
