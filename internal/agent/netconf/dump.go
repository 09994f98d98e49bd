package netconf

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// Netlink dumps return ErrDumpInterrupted (with partial results) when the
// table changed during the dump, which is routine on a node where pods come
// and go; such dumps are simply repeated.
const dumpRetries = 5

func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range dumpRetries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

func addrList(link netlink.Link) ([]netlink.Addr, error) {
	return retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
}

func routeList(link netlink.Link) ([]netlink.Route, error) {
	return retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(link, netlink.FAMILY_ALL) })
}
