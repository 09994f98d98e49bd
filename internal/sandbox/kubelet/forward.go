package kubelet

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/containernetworking/plugins/pkg/ns"
	"k8s.io/klog/v2"
)

// forwardIntoNetns listens on addr inside the network namespace at nsPath and
// forwards every connection to the same addr in this process's own (host)
// namespace. A socket stays in the namespace it was created in, so only the
// listen call needs to run there.
func forwardIntoNetns(ctx context.Context, nsPath, addr string) error {
	netns, err := ns.GetNS(nsPath)
	if err != nil {
		return err
	}
	defer netns.Close()
	var l net.Listener
	if err := netns.Do(func(ns.NetNS) error {
		var lerr error
		l, lerr = net.Listen("tcp", addr)
		return lerr
	}); err != nil {
		return fmt.Errorf("listen on %s in %s: %w", addr, nsPath, err)
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go pipe(in, addr)
		}
	}()
	return nil
}

func pipe(in net.Conn, addr string) {
	defer in.Close()
	out, err := net.Dial("tcp", addr)
	if err != nil {
		klog.ErrorS(err, "apiserver forwarder: dial failed", "addr", addr)
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
}
