package cniserver

import "github.com/kvnet/kvnet/internal/annotations"

// annotated returns complete controller annotations for a pod, with
// overrides applied (an empty value deletes the key).
func annotated(overrides map[string]string) map[string]string {
	ann := map[string]string{
		annotations.Allocated:     "true",
		annotations.Routed:        "true",
		annotations.IPAddress:     "10.16.0.5",
		annotations.MACAddress:    "0a:58:0a:10:00:05",
		annotations.CIDR:          "10.16.0.0/16",
		annotations.Gateway:       "10.16.0.1",
		annotations.LogicalSwitch: "ovn-default",
		annotations.PortName:      "web.default",
	}
	for k, v := range overrides {
		if v == "" {
			delete(ann, k)
		} else {
			ann[k] = v
		}
	}
	return ann
}
