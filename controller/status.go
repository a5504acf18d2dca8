package controller

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spklab/spklab/spk"
)

// statusObject is a CR with the status every SPK CR carries.
type statusObject struct {
	obj    client.Object
	kind   string
	status *spk.Status
}

func statusObjects(in *inputs) []statusObject {
	var out []statusObject
	c := &in.cluster
	for i := range c.VLANs {
		out = append(out, statusObject{&c.VLANs[i], spk.KindVLAN, &c.VLANs[i].Status})
	}
	for i := range c.Ingresses {
		out = append(out, statusObject{&c.Ingresses[i], spk.KindIngressTCP, &c.Ingresses[i].Status})
	}
	for i := range c.Snatpools {
		out = append(out, statusObject{&c.Snatpools[i], spk.KindSnatpool, &c.Snatpools[i].Status})
	}
	for i := range c.Egresses {
		out = append(out, statusObject{&c.Egresses[i], spk.KindEgress, &c.Egresses[i].Status})
	}
	for i := range c.Routes {
		out = append(out, statusObject{&c.Routes[i], spk.KindStaticRoute, &c.Routes[i].Status})
	}
	return out
}

// writeStatus sets Accepted and Programmed on every CR, writing only the
// CRs whose status changes (so an unchanged world causes no writes).
func (r *Reconciler) writeStatus(ctx context.Context, in *inputs, rejected, notes map[string]string, prog programmed) error {
	var errs []error
	for _, so := range statusObjects(in) {
		m := so.obj.(metav1.Object)
		key := spk.ObjectKey(so.kind, &metav1.ObjectMeta{Namespace: m.GetNamespace(), Name: m.GetName()})
		gen := m.GetGeneration()
		want := *so.status.DeepCopy()
		want.ObservedGeneration = gen
		accepted := metav1.Condition{Type: spk.ConditionAccepted, Status: metav1.ConditionTrue, Reason: ReasonAccepted,
			Message: "compiled into the TMM config", ObservedGeneration: gen}
		if note := notes[key]; note != "" {
			accepted.Message += "; " + note
		}
		programmedCond := metav1.Condition{Type: spk.ConditionProgrammed, Reason: prog.reason, Message: prog.message, ObservedGeneration: gen,
			Status: metav1.ConditionFalse}
		if why, bad := rejected[key]; bad {
			accepted.Status, accepted.Reason, accepted.Message = metav1.ConditionFalse, ReasonInvalid, why
			programmedCond.Reason, programmedCond.Message = ReasonNotAccepted, "not accepted, so no TMM runs it"
		} else if prog.ok {
			programmedCond.Status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&want.Conditions, accepted)
		meta.SetStatusCondition(&want.Conditions, programmedCond)
		if equality.Semantic.DeepEqual(want, *so.status) {
			continue
		}
		orig := so.obj.DeepCopyObject().(client.Object)
		*so.status = want
		if err := r.client.Status().Patch(ctx, so.obj, client.MergeFrom(orig)); err != nil {
			if apierrors.IsNotFound(err) {
				continue // deleted meanwhile; its delete event reconciles again
			}
			errs = append(errs, fmt.Errorf("writing the status of %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}
