package cniserver

import (
	"crypto/sha256"
	"encoding/hex"
)

// hostIfNameLen keeps host interface names within IFNAMSIZ-1 (15) bytes.
const hostIfNameLen = 12

// HostIfName names the host end of a pod's veth: the first 12 characters of
// the container ID plus "_h" for the pod's primary interface (eth0), as
// operators know it from Kube-OVN, and a hash of container ID and interface
// name for any other interface of the same sandbox, so they cannot collide.
func HostIfName(containerID, ifName string) string {
	id := containerID
	if ifName != "" && ifName != "eth0" {
		sum := sha256.Sum256([]byte(containerID + "/" + ifName))
		id = hex.EncodeToString(sum[:])
	}
	if len(id) > hostIfNameLen {
		id = id[:hostIfNameLen]
	}
	return id + "_h"
}
