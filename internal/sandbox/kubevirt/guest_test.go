package kubevirt

import (
	"bytes"
	"net"
	"testing"
)

func TestRARPFrameIsQEMUAnnouncement(t *testing.T) {
	mac, _ := net.ParseMAC("0a:58:0a:10:00:0f")
	f := rarpFrame(mac)
	if len(f) != 60 {
		t.Fatalf("frame is %d bytes, want 60", len(f))
	}
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x58, 0x0a, 0x10, 0x00, 0x0f, 0x80, 0x35, // Ethernet, RARP
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03, // Ethernet/IPv4, reverse request
		0x0a, 0x58, 0x0a, 0x10, 0x00, 0x0f, 0, 0, 0, 0, // sender MAC, 0.0.0.0
		0x0a, 0x58, 0x0a, 0x10, 0x00, 0x0f, 0, 0, 0, 0, // target MAC, 0.0.0.0
	}
	if !bytes.Equal(f[:len(want)], want) {
		t.Errorf("frame\n got %x\nwant %x", f[:len(want)], want)
	}
}
