package cniserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kvnet/kvnet/internal/agent/attachment"
	"github.com/kvnet/kvnet/internal/agent/cniapi"
)

// Pod is what the agent needs to know about a pod.
type Pod struct {
	Namespace   string
	Name        string
	UID         string
	Annotations map[string]string
	Labels      map[string]string
}

// Pods is the agent's view of the pods bound to its node (an informer cache
// in the agent, a map in tests).
type Pods interface {
	// Get returns the pod, or false when it is not known (yet).
	Get(namespace, name string) (*Pod, bool)
	// Changed returns a channel closed at the next change of that pod. Take it
	// before Get so a change between the two is not missed.
	Changed(namespace, name string) <-chan struct{}
}

// podRef identifies the pod of a CNI call (from CNI_ARGS).
type podRef struct {
	Namespace, Name, UID string
}

func (p podRef) String() string { return p.Namespace + "/" + p.Name }

// parsePodRef reads K8S_POD_NAMESPACE, K8S_POD_NAME and (optionally)
// K8S_POD_UID from CNI_ARGS.
func parsePodRef(args string) (podRef, error) {
	var ref podRef
	for _, kv := range strings.Split(args, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "K8S_POD_NAMESPACE":
			ref.Namespace = v
		case "K8S_POD_NAME":
			ref.Name = v
		case "K8S_POD_UID":
			ref.UID = v
		}
	}
	if ref.Namespace == "" || ref.Name == "" {
		return ref, coded(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS must name the pod (K8S_POD_NAMESPACE, K8S_POD_NAME)", fmt.Errorf("CNI_ARGS=%q", args))
	}
	return ref, nil
}

// waitForAttachment blocks until the pod is known (with the UID the runtime
// named, if any) and carries usable allocation annotations, or ctx ends; the
// error then names what was missing.
func waitForAttachment(ctx context.Context, pods Pods, ref podRef, node string) (*Pod, *attachment.Attachment, error) {
	var why string
	for {
		changed := pods.Changed(ref.Namespace, ref.Name)
		pod, ok := pods.Get(ref.Namespace, ref.Name)
		switch {
		case !ok:
			why = fmt.Sprintf("pod %s is not known on node %s", ref, node)
		case ref.UID != "" && pod.UID != ref.UID:
			why = fmt.Sprintf("pod %s has UID %s, the runtime asked for %s", ref, pod.UID, ref.UID)
		default:
			att, err := attachment.Parse(pod.Annotations)
			if err == nil {
				return pod, att, nil
			}
			if !errors.Is(err, attachment.ErrNotAnnotated) {
				return nil, nil, coded(cniapi.ErrPodAnnotations, fmt.Sprintf("pod %s has unusable kvnet annotations", ref), err)
			}
			why = fmt.Sprintf("pod %s lacks %s", ref, strings.Join(attachment.MissingAnnotations(pod.Annotations), " and "))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, coded(types.ErrTryAgainLater, "timed out waiting for the kvnet controller: "+why, ctx.Err())
		}
	}
}
