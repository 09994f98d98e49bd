// Command kvnet-cni is kvnet's CNI plugin: a thin shim that forwards every
// CNI call (ADD, DEL, CHECK, GC, STATUS) to the kvnet agent on the node over
// the agent's root-only unix socket and returns the agent's result or error.
// The socket comes from the network configuration ("socket"), default
// /run/kvnet/cni.sock.
package main

import (
	"context"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/kvnet/kvnet/internal/agent/cniapi"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    forward("ADD"),
		Del:    forward("DEL"),
		Check:  forward("CHECK"),
		GC:     forward("GC"),
		Status: forward("STATUS"),
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"),
		"kvnet-cni: forwards CNI calls to the kvnet agent")
}

func forward(command string) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) error {
		conf, err := cniapi.ParseNetConf(args.StdinData)
		if err != nil {
			return types.NewError(types.ErrInvalidNetworkConfig, "invalid kvnet network configuration", err.Error())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(conf.TimeoutSeconds)*time.Second)
		defer cancel()
		raw, err := cniapi.Call(ctx, conf.Socket, &cniapi.Request{
			Command:     command,
			ContainerID: args.ContainerID,
			Netns:       args.Netns,
			IfName:      args.IfName,
			Args:        args.Args,
			Path:        args.Path,
			Config:      args.StdinData,
		})
		if err != nil || command != "ADD" {
			return err
		}
		result, err := version.NewResult(conf.CNIVersion, raw)
		if err != nil {
			return types.NewError(types.ErrDecodingFailure, "decode the kvnet agent's result", err.Error())
		}
		return types.PrintResult(result, conf.CNIVersion)
	}
}
