package netconf

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Legacy ethtool commands (linux/ethtool.h). Clearing tx checksumming makes
// the kernel also drop the features that depend on it (TSO, GSO on top of
// it), exactly as `ethtool -K <if> tx off` does.
const (
	ethtoolGTXCSUM = 0x00000016
	ethtoolSTXCSUM = 0x00000017
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with the ifr_data member of the union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte // rest of the union
}

func ethtool(ifname string, v *ethtoolValue) error {
	if len(ifname) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	var ifr ifreqData
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(v)
	if errno != 0 {
		return fmt.Errorf("ethtool ioctl %#x on %s: %w", v.cmd, ifname, errno)
	}
	return nil
}

// DisableTxOffload turns off tx checksum offload (and with it TSO) on ifname
// in the current network namespace.
func DisableTxOffload(ifname string) error {
	v := &ethtoolValue{cmd: ethtoolSTXCSUM, data: 0}
	if err := ethtool(ifname, v); err != nil {
		return fmt.Errorf("disable tx offload: %w", err)
	}
	return nil
}

// TxOffload reports whether tx checksum offload is on for ifname in the
// current network namespace.
func TxOffload(ifname string) (bool, error) {
	v := &ethtoolValue{cmd: ethtoolGTXCSUM}
	if err := ethtool(ifname, v); err != nil {
		return false, fmt.Errorf("read tx offload: %w", err)
	}
	return v.data != 0, nil
}
