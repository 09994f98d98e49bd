package kubevirt

import (
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kvnet/kvnet/internal/sandbox"
)

// The guest of a sandbox VM is its launcher pod's network namespace. These
// are the two things a live migration's cut-over does to it, as QEMU does:
// the source guest stops (pauses for good) and the target guest announces
// itself with RARP.

// QEMU's self-announce defaults (migration parameters announce-initial,
// announce-step, announce-rounds): the first RARP as soon as the guest
// resumes on the target (net/announce.c, qemu_announce_self), the next
// 50 ms later, each further gap 100 ms longer, 5 in all.
const (
	announceInitial = 50 * time.Millisecond
	announceStep    = 100 * time.Millisecond
	announceRounds  = 5
	// ethertype of RARP (RFC 903), the frame QEMU sends and OVN's
	// activation-strategy=rarp waits for.
	ethTypeRARP = 0x8035
)

// podNetnsPath is where the kubelet stand-in of sandbox sb put pod's namespace.
func podNetnsPath(sb sandbox.Config, pod *corev1.Pod) string {
	return filepath.Join("/run/netns", sb.PodNetns(string(pod.UID)))
}

// pauseGuest stops the guest answering: its interface goes down.
func pauseGuest(nsPath string) error {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return err
	}
	defer nl.Close()
	link, err := nl.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("source guest eth0: %w", err)
	}
	return nl.LinkSetDown(link)
}

// rarpFrame builds QEMU's announcement: a broadcast RARP "reverse request"
// (opcode 3) with the guest's MAC as sender and target hardware address and
// zero protocol addresses.
func rarpFrame(mac net.HardwareAddr) []byte {
	f := make([]byte, 60) // padded to the Ethernet minimum
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], ethTypeRARP)
	binary.BigEndian.PutUint16(f[14:16], 1)      // hardware type Ethernet
	binary.BigEndian.PutUint16(f[16:18], 0x0800) // protocol IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:22], 3) // reverse request
	copy(f[22:28], mac)
	copy(f[32:38], mac)
	return f
}

// announceGuest sends the first RARP at once and returns; the
// remaining rounds follow in the background. done (may be nil) receives the
// error of the whole sequence.
func announceGuest(nsPath string, done chan<- error) error {
	target, err := ns.GetNS(nsPath)
	if err != nil {
		return err
	}
	var fd int
	var ifindex int
	var mac net.HardwareAddr
	err = target.Do(func(ns.NetNS) error {
		ifc, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		ifindex, mac = ifc.Index, ifc.HardwareAddr
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(ethTypeRARP)))
		return err
	})
	target.Close()
	if err != nil {
		return fmt.Errorf("target guest: %w", err)
	}
	addr := &unix.SockaddrLinklayer{Protocol: htons(ethTypeRARP), Ifindex: ifindex, Halen: 6}
	copy(addr.Addr[:], mac)
	frame := rarpFrame(mac)
	send := func() error { return unix.Sendto(fd, frame, 0, addr) }
	if err := send(); err != nil {
		unix.Close(fd)
		return fmt.Errorf("RARP from %s: %w", mac, err)
	}
	go func() {
		defer unix.Close(fd)
		gap := announceInitial - announceStep
		var err error
		for i := 1; i < announceRounds && err == nil; i++ {
			gap += announceStep
			time.Sleep(gap)
			err = send()
		}
		if done != nil {
			done <- err
		}
	}()
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
