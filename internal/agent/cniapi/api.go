package cniapi

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
)

// DefaultSocket is where the agent listens unless the network config says
// otherwise ("socket").
const DefaultSocket = "/run/kvnet/cni.sock"

// HTTPPath is the endpoint the shim posts requests to.
const HTTPPath = "/cni"

// NetConf is kvnet's network configuration (one plugin of a conflist).
type NetConf struct {
	types.PluginConf
	// Socket is the agent's unix socket.
	Socket string `json:"socket,omitempty"`
	// TimeoutSeconds bounds one call in the shim; 0 means DefaultTimeoutSeconds.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
}

// DefaultTimeoutSeconds bounds a call when the config does not: long enough
// for the agent's own bounded waits (annotations, ovn-installed, gateway).
const DefaultTimeoutSeconds = 150

// ParseNetConf decodes stdin data and applies defaults.
func ParseNetConf(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, fmt.Errorf("parse network configuration: %w", err)
	}
	if conf.Socket == "" {
		conf.Socket = DefaultSocket
	}
	if conf.TimeoutSeconds < 0 {
		return nil, fmt.Errorf("timeoutSeconds must not be negative, got %d", conf.TimeoutSeconds)
	}
	if conf.TimeoutSeconds == 0 {
		conf.TimeoutSeconds = DefaultTimeoutSeconds
	}
	return conf, nil
}

// Request is one CNI invocation as the runtime made it.
type Request struct {
	Command     string `json:"command"`
	ContainerID string `json:"containerID,omitempty"`
	Netns       string `json:"netns,omitempty"`
	IfName      string `json:"ifName,omitempty"`
	// Args is CNI_ARGS ("K8S_POD_NAMESPACE=...;K8S_POD_NAME=...").
	Args string `json:"args,omitempty"`
	Path string `json:"path,omitempty"`
	// Config is the network configuration from stdin, verbatim.
	Config json.RawMessage `json:"config"`
}

// Response carries either the CNI result (ADD: in the config's cniVersion;
// empty for the other commands) or a CNI error.
type Response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *types.Error    `json:"error,omitempty"`
}

// kvnet's plugin-specific error codes (CNI reserves 100 and up for plugins).
const (
	// ErrPodAnnotations: the pod's kvnet annotations are present but unusable.
	ErrPodAnnotations uint = 100
	// ErrOVS: the Open_vSwitch database refused or failed an operation.
	ErrOVS uint = 101
	// ErrNetlink: creating or configuring the interfaces failed.
	ErrNetlink uint = 102
	// ErrGatewayUnreachable: the pod could not reach its gateway.
	ErrGatewayUnreachable uint = 103
	// ErrKubernetes: the pod could not be read from the API server.
	ErrKubernetes uint = 104
)
